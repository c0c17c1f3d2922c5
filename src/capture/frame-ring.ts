/**
 * The most recent frames of a live interface, kept in a fixed amount of memory so that the probe
 * can still write the frames behind a finding to an evidence file when the detector reports it
 * (src/store/evidence-files.ts), seconds after they went by.
 *
 *   push(frame) ── copy caplen bytes into `data` at the write position (wrapping) ── meta[number % slots]
 *   get(number) ── the copy, if neither its slot nor its bytes have been overwritten since
 *
 * Nothing is allocated per frame; memory is `bytes` plus 32 bytes per slot. Frame numbers are
 * consecutive per interface (LiveCapture numbers them from 1), so a slot is found by arithmetic.
 * Positions are counted as doubles (exact up to 2^53 bytes), so the ring never wraps its counters.
 */
import type { Frame } from './file-source.js';

export interface RingFrame {
  number: number;
  /** ms since the epoch, with µs in the fraction (as Frame.ts). */
  ts: number;
  origLen: number;
  /** A copy of the stored bytes (caplen of them). */
  data: Buffer;
}

export class FrameRing {
  private readonly data: Buffer;
  private readonly slots: number;
  private readonly num: Float64Array;
  private readonly ts: Float64Array;
  private readonly pos: Float64Array;
  private readonly len: Int32Array;
  private readonly orig: Int32Array;
  private written = 0;
  /** Frames larger than the whole ring (not kept). */
  tooLarge = 0;

  /** `bytes` of frame data (at least 64 KiB); `slots` frames at most (default bytes ÷ 128). */
  constructor(bytes: number, slots = Math.max(1024, Math.floor(bytes / 128))) {
    this.data = Buffer.alloc(Math.max(65_536, Math.floor(bytes)));
    this.slots = slots;
    this.num = new Float64Array(slots).fill(-1);
    this.ts = new Float64Array(slots);
    this.pos = new Float64Array(slots);
    this.len = new Int32Array(slots);
    this.orig = new Int32Array(slots);
  }

  push(f: Frame): void {
    const size = this.data.length;
    const n = f.caplen;
    if (n > size) {
      this.tooLarge++;
      return;
    }
    const at = this.written % size;
    const first = Math.min(n, size - at);
    f.data.copy(this.data, at, 0, first);
    if (first < n) f.data.copy(this.data, 0, first, n);
    const slot = f.number % this.slots;
    this.num[slot] = f.number;
    this.ts[slot] = f.ts;
    this.pos[slot] = this.written;
    this.len[slot] = n;
    this.orig[slot] = f.origLen;
    this.written += n;
  }

  /** The frame numbered `number`, copied out, or undefined when it has been overwritten (or never seen). */
  get(number: number): RingFrame | undefined {
    const slot = number % this.slots;
    if (this.num[slot] !== number) return undefined;
    const size = this.data.length;
    const pos = this.pos[slot]!;
    const n = this.len[slot]!;
    if (pos < this.written - size) return undefined; // its bytes were written over
    const out = Buffer.allocUnsafe(n);
    const at = pos % size;
    const first = Math.min(n, size - at);
    this.data.copy(out, 0, at, at + first);
    if (first < n) this.data.copy(out, first, 0, n - first);
    return { number, ts: this.ts[slot]!, origLen: this.orig[slot]!, data: out };
  }
}
