/**
 * The JSON document of `replay --json`: the report with every evidence reference spelled out as
 * { file, sha256, frames } so it can be read without the run's input list. Format version 1.
 */
import type { ReplayReport } from '../replay.js';
import type { EvidenceRef } from '../detect/model.js';
import type { CallSummary, FeatureResult } from '../behaviour/types.js';

export interface ResolvedRef {
  file: string;
  sha256: string;
  frames: number[];
}

export function resolveRefs(report: ReplayReport, refs: EvidenceRef[]): ResolvedRef[] {
  return refs.map((r) => {
    const input = report.inputs[r.file];
    return { file: input?.path ?? `#${r.file}`, sha256: input?.sha256 ?? '', frames: r.frames };
  });
}

export function toJsonDocument(report: ReplayReport): Record<string, unknown> {
  const refs = (list: EvidenceRef[]) => resolveRefs(report, list);
  return {
    format: 'goipwatch.replay/1',
    tool: report.tool,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    partial: report.partial,
    inputs: report.inputs.map((i) => ({
      path: i.path, sha256: i.sha256, size: i.size, format: i.format, linkType: i.linkType, frames: i.frames, status: i.status,
      ...(i.problem ? { problem: i.problem } : {}),
    })),
    devices: report.devices,
    findings: report.findings.map((f) => ({
      ...f,
      evidence: f.evidence.map((e) => ({ ...e, refs: refs(e.refs) })),
      ...(f.behaviour ? { behaviour: resolveBehaviour(f.behaviour, refs) } : {}),
    })),
    sims: report.sims.map((s) => ({ ...s, refs: refs(s.refs) })),
    sms: report.sms.map((s) => ({ ...s, refs: refs(s.refs) })),
    ...(report.behaviour ? {
      behaviour: {
        profiles: report.behaviour.profiles.map((p) => ({ ...p, ...resolveBehaviour(p, refs) })),
        stats: report.behaviour.stats,
      },
    } : {}),
    stats: report.stats,
    malformedSamples: report.malformedSamples.map((m) => ({ ...m, file: report.inputs[m.file]?.path ?? `#${m.file}` })),
  };
}

/** Feature and call references of a behaviour explanation or profile, resolved like evidence refs. */
function resolveBehaviour<T extends { features: FeatureResult[]; calls: CallSummary[] }>(b: T, refs: (l: EvidenceRef[]) => ResolvedRef[]): T & { features: unknown[]; calls: unknown[] } {
  return {
    ...b,
    features: b.features.map((f) => ({ ...f, refs: refs(f.refs) })),
    calls: b.calls.map((c) => ({ ...c, ref: refs([c.ref])[0] })),
  };
}
