/**
 * `replay --mqtt URL`: a lab replay's findings and SIM inventory go to central monitoring through
 * the same outbox and reporter as a probe's (committed to SQLite first, sent only on PUBACK).
 */
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReplayReport } from '../replay.js';
import { mapFindingRefs, type EvidenceRef, type EvidenceSource } from '../detect/model.js';
import { ProbeStore } from '../store/probe-store.js';
import { ReportContract } from './contract.js';
import { MqttReporter } from './mqtt-reporter.js';
import { defaultProbeId } from '../config/load.js';
import { ErrorCodes, GoipwatchError } from '../errors.js';
import { toolVersion } from '../version.js';

export interface PublishOptions {
  url: string;
  probeId?: string;
  baseTopic?: string;
  /** SQLite file holding the outbox (default: a fresh temp file). */
  db?: string;
  timeoutMs?: number;
}

export async function publishReplay(report: ReplayReport, opts: PublishOptions): Promise<{ published: number }> {
  const contract = new ReportContract({ probeId: opts.probeId ?? `lab-${defaultProbeId(hostname())}`, baseTopic: opts.baseTopic, version: toolVersion() });
  const store = ProbeStore.open(opts.db ?? join(mkdtempSync(join(tmpdir(), 'goipwatch-outbox-')), 'outbox.db'));
  const reporter = new MqttReporter({ url: opts.url, contract, outbox: store.outbox });
  try {
    store.write({
      findings: report.findings,
      outbox: [
        ...report.findings.map((f) => {
          const m = inputSources(report);
          const finding = mapFindingRefs(f, (refs) => refs.map(m.one), m.one);
          // At most 64 sources in a message; a finding spread over more inputs keeps the report's numbering.
          return m.sources.length <= 64 ? contract.finding(finding, undefined, m.sources) : contract.finding(f);
        }),
        ...report.sims.map((s) => {
          const m = inputSources(report);
          const refs = s.refs.map(m.one);
          return m.sources.length <= 64 ? contract.sim({ ...s, refs }, m.sources) : contract.sim(s);
        }),
      ],
    });
    reporter.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    while (store.outbox.stats().pending > 0) {
      if (Date.now() > deadline) {
        throw new GoipwatchError(ErrorCodes.Report, `the broker at ${opts.url} did not acknowledge the replay's messages in time; they stay in the outbox${opts.db ? ` (${opts.db})` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { published: reporter.stats().published };
  } finally {
    await reporter.stop();
    store.close();
  }
}

/**
 * Renumbers refs onto the inputs they name, collecting those inputs (name and SHA-256) as the
 * message's `sources` (findings/3, inventory/2): a message is understood without the report.
 */
function inputSources(report: ReplayReport): { sources: EvidenceSource[]; one: (r: EvidenceRef) => EvidenceRef } {
  const sources: EvidenceSource[] = [];
  const index = new Map<number, number>();
  const one = (r: EvidenceRef): EvidenceRef => {
    let k = index.get(r.file);
    if (k === undefined) {
      k = sources.length;
      index.set(r.file, k);
      const input = report.inputs.find((i) => i.index === r.file);
      sources.push({ file: k, kind: 'file', name: input?.name ?? `input ${r.file}`, ...(input?.sha256 ? { sha256: input.sha256 } : {}) });
    }
    return { file: k, frames: r.frames };
  };
  return { sources, one };
}
