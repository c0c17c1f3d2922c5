/**
 * Bounded IPv4 fragment reassembly (RFC 791 §3.2 "Fragmentation and Reassembly"; the hole
 * bookkeeping follows RFC 815, with the holes kept implicit as the gaps between held pieces).
 *
 *   push(src, dst, id, proto, offset, MF, payload view, frame, ts)
 *     │
 *     ├─ offset 0 and MF clear ──► not a fragment: returned as is
 *     ▼
 *   expire partials older than timeoutMs (capture time, oldest first) ──► stats.timedOut
 *     ▼
 *   PartialDatagram[(src,dst,id,proto)]      new key over maxDatagrams ──► evict oldest
 *     │  copy only the bytes that fill holes (first fragment wins on overlap)
 *     │  end = offset + length of the fragment with MF clear
 *     ▼
 *   no hole left in [0, end) ──► { payload: one new Buffer, frames: ascending }
 *
 * Memory is bounded three ways: the number of partial datagrams (maxDatagrams), the size of one
 * datagram (maxDatagramBytes) and the bytes held across all of them (maxBufferedBytes, counting a
 * fixed overhead per held piece so that a flood of 8-byte fragments is charged for what it costs).
 * Time is capture time, checked on push: no timers, so a replay at 1M packets/s behaves the same
 * as a live capture.
 */
import { ErrorCodes, GoipwatchError } from '../errors.js';

export interface Ipv4ReassemblyOptions {
  /** Concurrent partial datagrams; the oldest is evicted for a new one. Integer ≥ 1, default 1024. */
  maxDatagrams?: number;
  /** Largest reassembled IP payload in bytes; a fragment reaching past it drops the datagram. Integer ≥ 8, default 65535. */
  maxDatagramBytes?: number;
  /**
   * Capture-time lifetime of a partial datagram from its first fragment, ms. Default 30_000:
   * RFC 791 suggests a 15 s lower bound for the reassembly timer, Linux `ipfrag_time` is 30 s.
   */
  timeoutMs?: number;
  /** Bytes held across all partial datagrams (payload + a per-piece overhead); oldest evicted over it. Default 16 MiB, at least maxDatagramBytes. */
  maxBufferedBytes?: number;
}

export interface Ipv4ReassemblyStats {
  /** Fragments pushed (packets with MF set or a non-zero offset). */
  fragments: number;
  reassembled: number;
  /** Partial datagrams dropped because their first fragment is older than timeoutMs. */
  timedOut: number;
  /** Partial datagrams dropped to make room (maxDatagrams or maxBufferedBytes). */
  evicted: number;
  /** Fragments that carried at least one byte already held (exact duplicates included). */
  overlapping: number;
  /** Fragments that brought no new byte at all (a subset of `overlapping`). */
  duplicates: number;
  /** Datagrams dropped because a fragment reached past maxDatagramBytes ("ping of death"). */
  oversize: number;
  /** Datagrams dropped because their fragments disagree on where the datagram ends. */
  malformed: number;
}

export interface ReassembledDatagram {
  payload: Buffer;
  /** Frames that contributed bytes (or the end) to the payload, ascending, without repeats. */
  frames: number[];
}

/** Rough cost of one held piece beyond its bytes (object, Buffer and ArrayBuffer headers). */
const PIECE_OVERHEAD = 128;

interface HeldPiece {
  offset: number;
  data: Buffer;
}

interface PartialDatagram {
  /** Capture time of the first fragment: RFC 791 starts the reassembly timer there. */
  firstTs: number;
  /** Payload length once the fragment with MF clear has been seen, else -1. */
  end: number;
  /** Sorted by offset, never overlapping: the gaps between them are RFC 815's hole list. */
  pieces: HeldPiece[];
  held: number;
  frames: number[];
  /**
   * Dropped (oversize or malformed): the entry stays, holding nothing, until it times out so that
   * the datagram's remaining fragments are swallowed instead of starting a partial that can never
   * complete honestly.
   */
  dead: boolean;
}

function checkLimit(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new GoipwatchError(ErrorCodes.Config, `IPv4 reassembly option ${name} must be an integer ≥ ${min}`, { [name]: value });
  }
  return value;
}

export class Ipv4Reassembler {
  readonly stats: Ipv4ReassemblyStats = {
    fragments: 0, reassembled: 0, timedOut: 0, evicted: 0, overlapping: 0, duplicates: 0, oversize: 0, malformed: 0,
  };

  private readonly maxDatagrams: number;
  private readonly maxDatagramBytes: number;
  private readonly timeoutMs: number;
  private readonly maxBufferedBytes: number;
  /** Insertion order is creation order, so the first entry is both the oldest and the next to expire. */
  private readonly partials = new Map<string, PartialDatagram>();
  private bufferedBytes = 0;

  constructor(opts: Ipv4ReassemblyOptions = {}) {
    this.maxDatagrams = checkLimit('maxDatagrams', opts.maxDatagrams, 1024, 1);
    this.maxDatagramBytes = checkLimit('maxDatagramBytes', opts.maxDatagramBytes, 65535, 8);
    this.timeoutMs = checkLimit('timeoutMs', opts.timeoutMs, 30_000, 0);
    this.maxBufferedBytes = Math.max(
      checkLimit('maxBufferedBytes', opts.maxBufferedBytes, 16 * 1024 * 1024, 1),
      this.maxDatagramBytes + PIECE_OVERHEAD * 64,
    );
  }

  /** Partial datagrams held now (dropped ones waiting for their timeout included). */
  get size(): number {
    return this.partials.size;
  }

  /**
   * One fragment. `offset` is in bytes (the header's 13-bit field × 8), `payload` is the data
   * after the IP header and may be a view into a reused capture buffer: what is kept is copied.
   */
  push(
    src: number, dst: number, id: number, protocol: number, offset: number, moreFragments: boolean,
    payload: Buffer, frame: number, ts: number,
  ): ReassembledDatagram | null {
    // Offset 0 with MF clear is a whole datagram (RFC 791 §3.2): nothing to reassemble.
    if (offset === 0 && !moreFragments) return { payload, frames: [frame] };
    this.stats.fragments++;
    if (this.partials.size > 0) this.expire(ts);

    const key = `${src >>> 0}:${dst >>> 0}:${id}:${protocol}`;
    let dg = this.partials.get(key);
    if (dg === undefined) {
      dg = this.create(key, ts);
    } else if (ts - dg.firstTs > this.timeoutMs) {
      // The front-of-map sweep stops at the first live entry; capture time can step backwards
      // between files, so a late fragment still checks its own datagram's age.
      this.drop(key, dg);
      if (!dg.dead) this.stats.timedOut++;
      dg = this.create(key, ts);
    }
    if (dg.dead) return null;

    const fragEnd = offset + payload.length;
    if (fragEnd > this.maxDatagramBytes) {
      this.kill(dg);
      this.stats.oversize++;
      return null;
    }
    let setsEnd = false;
    if (!moreFragments) {
      // The last fragment fixes the length; every byte held must lie before it (RFC 815 step 5
      // drops the hole past the end). A second, different end means the fragments disagree.
      if ((dg.end >= 0 && dg.end !== fragEnd) || (dg.end < 0 && lastHeldEnd(dg) > fragEnd)) {
        this.kill(dg);
        this.stats.malformed++;
        return null;
      }
      setsEnd = dg.end < 0;
      dg.end = fragEnd;
    } else if (dg.end >= 0 && fragEnd > dg.end) {
      this.kill(dg);
      this.stats.malformed++;
      return null;
    }

    const added = this.fillHoles(dg, offset, payload);
    if (added > 0 || setsEnd) dg.frames.push(frame);
    if (this.bufferedBytes > this.maxBufferedBytes) this.evictOverBudget(dg);

    if (dg.end >= 0 && dg.held === dg.end) return this.complete(key, dg);
    return null;
  }

  /**
   * Copies into `dg` the parts of [offset, offset+len) that are still holes. First-wins: bytes
   * already held are never replaced, so a later overlapping fragment cannot rewrite what an
   * analyzer would see (the overlap attacks of RFC 1858). Linux instead drops a datagram with any
   * overlap since 2018 (CVE-2018-5391); we keep it but count it, as evidence of odd traffic.
   */
  private fillHoles(dg: PartialDatagram, offset: number, payload: Buffer): number {
    const fragEnd = offset + payload.length;
    const pieces = dg.pieces;
    let pos = offset;
    let added = 0;
    let overlapped = false;
    let i = 0;
    while (pos < fragEnd) {
      // Skip held pieces that end before the part of this fragment still to place.
      while (i < pieces.length && pieces[i]!.offset + pieces[i]!.data.length <= pos) i++;
      const next = pieces[i];
      if (next === undefined || next.offset >= fragEnd) {
        // The rest of the fragment is one hole.
        pieces.splice(i, 0, { offset: pos, data: copyOut(payload, pos - offset, fragEnd - offset) });
        added += fragEnd - pos;
        this.bufferedBytes += fragEnd - pos + PIECE_OVERHEAD;
        break;
      }
      if (next.offset > pos) {
        pieces.splice(i, 0, { offset: pos, data: copyOut(payload, pos - offset, next.offset - offset) });
        added += next.offset - pos;
        this.bufferedBytes += next.offset - pos + PIECE_OVERHEAD;
        i++;
      }
      // `next` is held and overlaps this fragment: its bytes stay (first wins).
      overlapped = true;
      pos = next.offset + next.data.length;
      i++;
    }
    if (overlapped) this.stats.overlapping++;
    if (added === 0 && payload.length > 0) this.stats.duplicates++;
    dg.held += added;
    return added;
  }

  private complete(key: string, dg: PartialDatagram): ReassembledDatagram {
    const out = Buffer.allocUnsafe(dg.end);
    // Pieces tile [0, end) exactly (held === end and they never overlap), so every byte is written.
    for (const p of dg.pieces) p.data.copy(out, p.offset);
    const frames = dg.frames.sort((a, b) => a - b).filter((f, i, a) => i === 0 || a[i - 1] !== f);
    this.drop(key, dg);
    this.stats.reassembled++;
    return { payload: out, frames };
  }

  private create(key: string, ts: number): PartialDatagram {
    if (this.partials.size >= this.maxDatagrams) {
      const oldest = this.partials.entries().next().value;
      if (oldest !== undefined) {
        this.drop(oldest[0], oldest[1]);
        if (!oldest[1].dead) this.stats.evicted++;
      }
    }
    const dg: PartialDatagram = { firstTs: ts, end: -1, pieces: [], held: 0, frames: [], dead: false };
    this.partials.set(key, dg);
    return dg;
  }

  /** Drops the oldest partials (never `keep`, the one being filled) until back under budget. */
  private evictOverBudget(keep: PartialDatagram): void {
    for (const [key, dg] of this.partials) {
      if (this.bufferedBytes <= this.maxBufferedBytes) return;
      if (dg === keep || dg.dead) continue;
      this.drop(key, dg);
      this.stats.evicted++;
    }
  }

  /** Drops partials whose first fragment is older than timeoutMs, oldest first, stopping at the first live one. */
  private expire(ts: number): void {
    for (const [key, dg] of this.partials) {
      if (ts - dg.firstTs <= this.timeoutMs) return;
      this.drop(key, dg);
      if (!dg.dead) this.stats.timedOut++;
    }
  }

  private kill(dg: PartialDatagram): void {
    this.release(dg);
    dg.dead = true;
  }

  private drop(key: string, dg: PartialDatagram): void {
    this.release(dg);
    this.partials.delete(key);
  }

  private release(dg: PartialDatagram): void {
    this.bufferedBytes -= dg.held + PIECE_OVERHEAD * dg.pieces.length;
    dg.pieces = [];
    dg.held = 0;
  }
}

function lastHeldEnd(dg: PartialDatagram): number {
  const last = dg.pieces[dg.pieces.length - 1];
  return last === undefined ? 0 : last.offset + last.data.length;
}

/**
 * A private copy of payload[start, end). allocUnsafeSlow keeps it out of Node's shared 8 KiB
 * pool: a small piece held for seconds would otherwise pin a whole pool slab.
 */
function copyOut(payload: Buffer, start: number, end: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(end - start);
  payload.copy(copy, 0, start, end);
  return copy;
}
