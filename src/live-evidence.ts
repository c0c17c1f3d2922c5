/**
 * Evidence for live findings (`goipwatch run`): the frames a finding rests on are copied from the
 * interface's FrameRing into the probe's evidence files, and the finding's refs are rewritten to
 * point at them, with a `sources` list saying what each ref's `file` index is (findings/3,
 * inventory/2).
 *
 *   LiveCapture ─► frame ─► CapturePipeline … ─► not RTP? ─► FrameRing.push (per interface, fixed memory)
 *   flushFindings ─► preserve(finding):
 *        ref {file: interface i, frames: [n…]}
 *          ├─ frame n still in the ring (or kept before) ─► EvidenceFiles.keep ─► {file: s, frames: [position…]}
 *          │                                                  sources[s] = {kind: 'evidence', name: 'eth0-…-001.pcap'}
 *          └─ gone from the ring, or no space left ─────────► {file: t, frames: [n…]}
 *                                                              sources[t] = {kind: 'interface', interface, since: run start}
 *        ref {file: 100+k} (replayAsLive) ─► sources = {kind: 'file', name}
 *
 * A single-ref field (a behaviour call's `ref`) moves to an evidence file only when all its
 * frames are in the same one; otherwise it stays on the interface numbering.
 */
import type { Frame } from './capture/file-source.js';
import { FrameRing } from './capture/frame-ring.js';
import { mapFindingRefs, type EvidenceRef, type EvidenceSource, type Finding, type SimRecord } from './detect/model.js';
import type { EvidenceFiles } from './store/evidence-files.js';
import { describeError } from './errors.js';

interface LiveInterface {
  iface: string;
  ring: FrameRing;
  /** Link type of its frames (known from the first one). */
  dlt: number;
}

export class LiveEvidence {
  private readonly interfaces = new Map<number, LiveInterface>();
  private readonly files = new Map<number, string>();
  /** Frames that could not be written (disk full, I/O error): their refs stay on the interface numbering. */
  failed = 0;
  lastError: string | undefined;

  /** `since`: when the daemon started (ISO), the origin of live frame numbers. */
  constructor(private readonly evidence: EvidenceFiles | undefined, private readonly since: string) {}

  /** Interface `index` (its refs' file index): returns what the capture calls with each frame. */
  addInterface(index: number, iface: string, bufferBytes: number): (f: Frame) => void {
    const entry: LiveInterface = { iface, ring: new FrameRing(bufferBytes), dlt: -1 };
    this.interfaces.set(index, entry);
    return (f) => {
      entry.dlt = f.dlt;
      entry.ring.push(f);
    };
  }

  /** A capture file fed as live traffic under `index` (replayAsLive). */
  addFile(index: number, name: string): void {
    this.files.set(index, name);
  }

  /** The finding with its refs on evidence files where the frames could be kept, and what its refs index. */
  preserve(f: Finding): { finding: Finding; sources: EvidenceSource[] } {
    const m = this.mapper();
    const finding = mapFindingRefs(f, m.many, m.one);
    // findings/3 names at most 64 sources; past that the refs keep the interface numbering (no sources).
    return m.sources.length <= 64 ? { finding, sources: m.sources } : { finding: f, sources: [] };
  }

  /** A SIM record's refs the same way (inventory/2). */
  preserveSim(s: SimRecord): { sim: SimRecord; sources: EvidenceSource[] } {
    const m = this.mapper();
    const refs = m.many(s.refs);
    return m.sources.length <= 64 ? { sim: { ...s, refs }, sources: m.sources } : { sim: s, sources: [] };
  }

  /** Ref mapping for one message: `sources` fills as refs are placed. */
  private mapper(): { sources: EvidenceSource[]; many: (refs: EvidenceRef[]) => EvidenceRef[]; one: (r: EvidenceRef) => EvidenceRef } {
    const sources: EvidenceSource[] = [];
    const index = new Map<string, number>();
    const source = (key: string, make: () => Omit<EvidenceSource, 'file'>): number => {
      let i = index.get(key);
      if (i === undefined) {
        i = sources.length;
        index.set(key, i);
        sources.push({ file: i, ...make() });
      }
      return i;
    };
    const interfaceSource = (file: number): number =>
      source(`interface:${file}`, () => ({ kind: 'interface', interface: this.interfaces.get(file)?.iface ?? '', since: this.since }));
    /** One ref as groups of (source, frames) in the order the frames came. */
    const place = (r: EvidenceRef): EvidenceRef[] => {
      const live = this.interfaces.get(r.file);
      if (!live) {
        const name = this.files.get(r.file) ?? `source ${r.file}`;
        return [{ file: source(`file:${r.file}`, () => ({ kind: 'file', name })), frames: r.frames }];
      }
      const groups = new Map<number, number[]>();
      for (const n of r.frames) {
        const kept = live.dlt < 0 ? undefined : this.keep(live, n);
        const i = kept ? source(`evidence:${kept.name}`, () => ({ kind: 'evidence', name: kept.name, interface: live.iface })) : interfaceSource(r.file);
        let g = groups.get(i);
        if (!g) groups.set(i, (g = []));
        g.push(kept ? kept.position : n);
      }
      return [...groups].map(([file, frames]) => ({ file, frames }));
    };
    const many = (refs: EvidenceRef[]): EvidenceRef[] => refs.flatMap(place).slice(0, 64);
    const one = (r: EvidenceRef): EvidenceRef => {
      const placed = place(r);
      return placed.length === 1 ? placed[0]! : { file: interfaceSource(r.file), frames: r.frames };
    };
    return { sources, many, one };
  }

  /** A failure to write evidence never costs the finding: it keeps the frame's interface number. */
  private keep(live: LiveInterface, n: number): ReturnType<EvidenceFiles['keep']> {
    try {
      return this.evidence?.keep(live.iface, live.dlt, n, () => live.ring.get(n));
    } catch (e) {
      this.failed++;
      this.lastError = describeError(e);
      return undefined;
    }
  }

  /** Frames kept so far made durable: before the findings that point at them are committed. */
  sync(): void {
    this.evidence?.sync();
  }

  close(): void {
    this.evidence?.close();
  }

  /** Frames not kept for lack of space (evidenceMaxMb). */
  get refused(): number {
    return this.evidence?.refused ?? 0;
  }
}
