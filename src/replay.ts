/**
 * Lab replay: capture files in, a report out. Inputs are opened read-only and hashed before use;
 * every piece of evidence points back to (file SHA-256, frame numbers).
 *
 *   paths ─► expandInputs ─► for each file: readCaptureFile ─► CapturePipeline ─► DetectionEngine
 *                                                    └─ RTP (behaviour on) ─► BehaviourEngine ◄┘  │
 *                                                                ReplayReport ◄── finish()
 *
 * Behaviour analysis (calls, RTP, SIM-farm score) is on by default; calls and streams may span
 * consecutive files (a rotated capture), and whatever is still open at the end is closed as it stands.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readCaptureFile, libpcapVersion, type FileReadResult } from './capture/file-source.js';
import { CapturePipeline, type PipelineStats } from './capture/pipeline.js';
import { DetectionEngine } from './detect/engine.js';
import { loadSignatures } from './detect/signatures.js';
import type { DetectionResult } from './detect/model.js';
import type { Malformed, Observation } from './protocols/types.js';
import { ErrorCodes, GoipwatchError } from './errors.js';
import { toolVersion } from './version.js';
import type { BehaviourConfig } from './behaviour/types.js';
import { defaultBehaviourConfig } from './behaviour/defaults.js';

export interface InputFile extends FileReadResult {
  index: number;
  name: string;
}

export interface MalformedSample {
  protocol: string;
  reason: string;
  file: number;
  frames: number[];
}

export interface ReplayReport extends DetectionResult {
  tool: { name: 'goipwatch'; version: string; libpcap: string };
  /** Wall-clock time of the analysing machine (not of the capture). */
  startedAt: string;
  finishedAt: string;
  inputs: InputFile[];
  stats: PipelineStats;
  malformedSamples: MalformedSample[];
  /** True when any input was unreadable or read only in part. */
  partial: boolean;
}

export interface ReplayOptions {
  signatureFiles?: string[];
  /** Called per observation, e.g. to stream them or to feed another consumer. */
  onObservation?: (o: Observation, fileIndex: number) => void;
  /** Behaviour settings; default defaultBehaviourConfig(); `false` turns behaviour analysis off. */
  behaviour?: BehaviourConfig | false;
}

const CAPTURE_EXTENSIONS = /\.(pcap|pcapng|cap|dmp|trc|pcap\d+)$/i;

/** Files named on the command line are taken as they are; directories give their capture files, sorted, recursively. */
export function expandInputs(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && CAPTURE_EXTENSIONS.test(name)) out.push(p);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      // Let the reader report it per file (with the system's reason), so other inputs still run.
      out.push(resolve(p));
      continue;
    }
    if (st.isDirectory()) walk(resolve(p));
    else out.push(resolve(p));
  }
  return out;
}

export async function replay(paths: string[], opts: ReplayOptions = {}): Promise<ReplayReport> {
  if (paths.length === 0) throw new GoipwatchError(ErrorCodes.Usage, 'no input files given');
  const signatures = loadSignatures(opts.signatureFiles ?? []);
  const files = expandInputs(paths);
  if (files.length === 0) throw new GoipwatchError(ErrorCodes.Usage, `no capture files (.pcap, .pcapng, .cap) found in ${paths.join(', ')}`);
  const startedAt = new Date().toISOString();
  const behaviour = opts.behaviour === false ? undefined : opts.behaviour ?? defaultBehaviourConfig();
  const engine = new DetectionEngine(signatures, behaviour ? { behaviour } : {});
  const samples: MalformedSample[] = [];
  let fileIndex = 0;
  const pipeline = new CapturePipeline(
    (o) => {
      engine.observe(o);
      opts.onObservation?.(o, fileIndex);
    },
    (m: Malformed) => {
      if (samples.length < 100) samples.push({ protocol: m.protocol, reason: m.reason, file: m.ref.file, frames: m.ref.frames.slice(0, 8) });
    },
    engine.rtpSink,
  );
  const inputs: InputFile[] = [];
  for (const [i, path] of files.entries()) {
    fileIndex = i;
    pipeline.beginFile(i);
    const result = await readCaptureFile(path, (f) => pipeline.frame(f));
    pipeline.endFile();
    inputs.push({ ...result, index: i, name: basename(path) });
  }
  engine.endOfInput();
  const detection = engine.finish();
  return {
    tool: { name: 'goipwatch', version: toolVersion(), libpcap: libpcapVersion() },
    startedAt,
    finishedAt: new Date().toISOString(),
    inputs,
    ...detection,
    stats: pipeline.stats,
    malformedSamples: samples,
    partial: inputs.some((f) => f.status !== 'ok'),
  };
}
