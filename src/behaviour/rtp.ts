/**
 * RTP stream tracker (issue 5, behaviour detection): per-stream RFC 3550 statistics from the
 * RTP-looking UDP payloads of the capture hot path.
 *
 *   rtp(b, off, end, …), time/file/frame in `clock`                 (hot path: no strings, no allocation)
 *     │ 2nd byte 200–204 (marker + PT 72–76) ──► stats.rtcp++, stop            (RFC 5761 §4)
 *     ▼
 *   key = 30-bit hash(SSRC, source port, source address) ──► open-addressing Int32Array table ──► slot
 *     │   (one probe sequence, usually one step; each candidate row is compared on SSRC, port and
 *     │    all address words, so a collision or IPv6 costs a few integer compares, never a string)
 *     ├─ unknown ──► open: a slot (typed-array rows, reused), SDP expectation looked up by
 *     │              destination ip:port, clock rate from SDP → RFC 3551 static table → 8000
 *     │              table full ──► evict the oldest one-packet candidate, else droppedAtCap++
 *     ▼
 *   stream row: header/payload length, §A.1 sequence (probation, dropout, misorder, cycles),
 *           §A.8 jitter, PT counts (≤ 8 per stream), timestamp-step tally (ptime); the last PT and
 *           the last step are counted as runs in the row's hot bytes, added to their tables on a change
 *     │ qualifies: SDP-matched and past probation, or heuristic (≥ minPackets, sequence mostly
 *     │            consecutive, ≤ 2 audio PTs + events/CN, timestamps advancing)
 *     ▼
 *   sweep(now) idle > idleTimeoutMs / flush() ──► onStreamClosed(RtpStreamStats) or rejected++
 *
 * Memory: a stream is a 320-byte row of one shared buffer (see "the stream table layout"), a
 * table entry and one array slot; nothing grows with packets. Rows are reused when streams close,
 * so a steady capture allocates nothing per packet and little per stream.
 *
 * Reading the numbers: `expected`/`lost` follow §A.1/§A.3 exactly, so counting starts at the packet
 * that ends probation (a clean 50-packet stream has expected 49, lost 0; `packets` counts all 50).
 * `payloadBytes` leaves out the padding when its count byte is sane (1…payload length). The evidence
 * ref names the file of the stream's first packet; packets from another file do not move lastFrame.
 */
import type { MediaExpectation, RtpStreamStats, RtpTrackerStats } from './types.js';
import { ipv4FromNumber, ipv6At } from '../capture/addresses.js';

export interface RtpTrackerOptions {
  /** Streams (candidates included) held at once; beyond it new ones are counted in droppedAtCap. Default 100_000. */
  maxStreams?: number;
  /** Capture-time inactivity after which sweep() closes a stream, ms. Default 30_000. */
  idleTimeoutMs?: number;
  /** Packets a stream without SDP needs before it can be reported (heuristic). Default 20. */
  minPackets?: number;
  /** SDP media expectations held; the oldest is forgotten first. Default 100_000. */
  maxExpectations?: number;
  /** Capture time after which an expectation no longer matches new streams, ms. Default 4 h. */
  expectationTtlMs?: number;
  onStreamClosed: (s: RtpStreamStats) => void;
  /**
   * Called from packet() at most once per second of capture time, with the packet's time: lets the
   * owner run its timeouts without wrapping the hot path in a call of its own.
   */
  onTick?: (ts: number) => void;
}

// ───────────────────────────── RFC 3551 static payload types ─────────────────────────────

/** RFC 3551 §6 tables 4 and 5: PT → encoding name and RTP clock rate. */
const STATIC_PAYLOADS: ReadonlyArray<readonly [number, string, number]> = [
  [0, 'PCMU', 8000], [3, 'GSM', 8000], [4, 'G723', 8000], [5, 'DVI4', 8000], [6, 'DVI4', 16000],
  [7, 'LPC', 8000], [8, 'PCMA', 8000], [9, 'G722', 8000], [10, 'L16', 44100], [11, 'L16', 44100],
  [12, 'QCELP', 8000], [13, 'CN', 8000], [14, 'MPA', 90000], [15, 'G728', 8000], [16, 'DVI4', 11025],
  [17, 'DVI4', 22050], [18, 'G729', 8000], [25, 'CelB', 90000], [26, 'JPEG', 90000], [28, 'nv', 90000],
  [31, 'H261', 90000], [32, 'MPV', 90000], [33, 'MP2T', 90000], [34, 'H263', 90000],
];
const staticRate = new Int32Array(128);
const staticName: Array<string | undefined> = new Array<string | undefined>(128).fill(undefined);
for (const [pt, name, rate] of STATIC_PAYLOADS) {
  staticRate[pt] = rate;
  staticName[pt] = name;
}

/** The RFC 3551 static assignment of a payload type (0–127), or undefined for dynamic/unassigned ones. */
export function staticPayloadType(pt: number): { codec: string; clockRate: number } | undefined {
  const codec = pt >= 0 && pt < 128 ? staticName[pt] : undefined;
  return codec === undefined ? undefined : { codec, clockRate: staticRate[pt]! };
}

// ───────────────────────────── constants ─────────────────────────────

/** RFC 3550 §A.1. */
const MIN_SEQUENTIAL = 2;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const RTP_SEQ_MOD = 65536;

/** Distinct payload types counted per stream; more are only counted as overflow. */
const MAX_PTS = 8;
/** Entries of the timestamp-step tally (Misra–Gries: finds the majority step in 4 counters). */
const TALLY = 4;
/** Unqualified streams are re-examined every this many packets (the heuristic is not per packet). */
const RECHECK_EVERY = 16;

const DEFAULTS = {
  maxStreams: 100_000,
  idleTimeoutMs: 30_000,
  minPackets: 20,
  maxExpectations: 100_000,
  expectationTtlMs: 4 * 3600_000,
};

// ───────────────────────────── the stream table layout ─────────────────────────────
//
// Streams are rows of one ArrayBuffer (viewed as Int32 `I` and Float64 `F`) indexed by slot, not
// objects: a packet touches the first 128 bytes of its row instead of an object, its boxed doubles
// and a Map entry. The usual packet (a known IPv4 stream, past probation, in order, same payload
// type and timestamp step as the one before) reads and writes only those 128 bytes: everything it
// needs is in them, and what it would have written elsewhere (the PT counter, the ptime tally) is
// kept as a run in them and added to its table when the PT or the step changes, or when the table
// is read (flushPt, flushTally). With 40,000 streams the cache lines touched per packet are what
// decide its cost. A row is 320 bytes:
//   bytes   0–63   hot int32: identity, flags, §A.1 state, heuristic counters, the two runs
//   bytes  64–127  hot float64: times, jitter, clock, bytes, frame, file
//   bytes 128–319  cold: IPv6 address words, probation, resync, SDP, table and list links, the
//                  ptime tally, (PT + 1, count) × 8; touched when a stream opens, closes, resyncs,
//                  changes PT or step, or is examined

const IW = 80; // int32 per row
const FW = IW / 2; // float64 per row
// Hot int32: bytes 0–63.
const I_SSRC = 0; // as a signed int
const I_PORT = 1; // source port, + 65536 when the source is IPv6
const I_A0 = 2; // source address word 0 (IPv4: the address; a1–a3 are in the cold part, zero)
const I_FLAGS = 3;
const I_PACKETS = 4;
const I_LASTPT = 5; // PT of the previous packet (−1 none, or not counted: overflow) ...
const I_PTRUN = 6; // ... and packets of it not yet added to its counter (flushPt)
const I_MAXSEQ = 7; // RFC 3550 §A.1 source state ...
const I_STEPS = 8; // in-order consecutive steps (seq = max + 1) ...
const I_MAXRTP = 9; // RTP timestamp of the packet that set max_seq ...
const I_TSFWD = 10; // ... on which the timestamp advanced ...
const I_MAXPT = 11; // ... and its PT
const I_TSTEP = 12; // the last timestamp step tallied ...
const I_TRUN = 13; // ... and how many times in a row, not yet in the tally (flushTally)
const I_RECEIVED = 14;
const I_PREVRTP = 15; // RTP timestamp of the previous packet (§A.8 transit)
// Hot float64 (indexes into F, relative to slot · FW): bytes 64–127.
const F_LASTTS = 8;
const F_LASTFRAME = 9;
const F_BYTES = 10;
const F_PREVARR = 11; // arrival (ms) of the previous packet (§A.8 transit)
const F_RATE = 12; // clock rate ÷ 1000 (timestamp units per ms)
const F_JITTER = 13; // §A.8 J, timestamp units
const F_FILE = 14; // the file of the stream's first packet (its evidence ref)
const F_FIRSTTS = 15;
// Cold int32: bytes 128–319.
const I_A1 = 32;
const I_A2 = 33;
const I_A3 = 34;
const I_PROBATION = 35; // > 0 exactly while VALID is not set (only open() sets it above 0)
const I_CYCLES = 36;
const I_TSBACK = 37; // in-order consecutive steps on which the timestamp went back
const I_NEXTCHECK = 38; // packet count at which an unqualified stream is examined again
const I_EXPGEN = 39; // expGen when the SDP expectations were last looked up
const I_BASESEQ = 40;
const I_BADSEQ = 41;
const I_RESETS = 42;
const I_MALFORMED = 43;
const I_PTOVER = 44;
const I_CLOCK = 45;
const F_FIRSTFRAME = 23; // float64 at ints 46–47
const I_DPORT = 48;
const I_D0 = 49; // destination address words, 49–52
const I_HKEY = 53; // the stream's hash (its home in the open-addressing table)
const I_FPREV = 54; // the list of one-packet candidates
const I_FNEXT = 55;
const I_TALLY = 56; // (timestamp step, count) × TALLY, ints 56–63
const I_PTS = 64; // (PT + 1, count) × MAX_PTS, ints 64–79

// The clock's slots.
const CLOCK_TS = 0;
const CLOCK_FILE = 1;
const CLOCK_FRAME = 2;

// I_FLAGS bits.
const ACTIVE = 1;
const VALID = 2; // probation passed (§A.1)
const QUALIFIED = 4; // counted in stats.streams, will be reported
const FRESH = 8; // one packet so far: first to go when the table is full
const SDP = 16; // matched an expectation (exps[slot])
const TRANSIT = 32; // a previous packet's transit time is known (§A.8)

/** Big-endian 32-bit read as a signed int (stays a small integer in V8). */
function i32(b: Buffer, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/**
 * The table key of a stream: a 30-bit hash of SSRC, source port and source address words (each a
 * signed 32-bit int; IPv4 passes 0 for a1–a3), murmur3's finaliser so that the low bits (the home
 * in the table) depend on every input bit. Streams with equal keys are told apart by comparing the
 * row. Exported for tests.
 */
export function rtpStreamHash(ssrc: number, sport: number, a0: number, a1: number, a2: number, a3: number): number {
  let h = ssrc ^ Math.imul(sport + 1, 0x9e3779b1) ^ Math.imul(a0 ^ Math.imul(a1 ^ Math.imul(a2 ^ a3, 0x27d4eb2f), 0x165667b1), 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}

export class RtpTracker {
  readonly stats: RtpTrackerStats = { streams: 0, open: 0, rtcp: 0, droppedAtCap: 0, rejected: 0 };

  private readonly maxStreams: number;
  private readonly idleTimeoutMs: number;
  private readonly minPackets: number;
  private readonly maxExpectations: number;
  private readonly expectationTtlMs: number;
  private readonly onStreamClosed: (s: RtpStreamStats) => void;
  private readonly onTick: ((ts: number) => void) | undefined;
  private nextTick = -Infinity;

  /** Open addressing, linear probing: slot + 1 at the stream's hash & tabMask or after it; 0 = empty. Load ≤ ½. */
  private tab: Int32Array;
  private tabMask: number;
  /** The rows: two views of one buffer. */
  private I: Int32Array;
  private F: Float64Array;
  /** Slots allocated in the rows (grown by doubling up to maxStreams) and slots ever used. */
  private cap: number;
  private high = 0;
  private readonly freeSlots: number[] = [];
  /** The matched expectation of each slot (the one object reference a stream holds). */
  private readonly exps: Array<MediaExpectation | undefined> = [];
  private tracked = 0;
  private freshHead = -1;
  private freshTail = -1;

  /** ip:port → expectation: IPv4 as a number (ip·65536 + port), IPv6 as "w0:w1:w2:w3|port". */
  private readonly expectations = new Map<number | string, MediaExpectation>();
  /** Bumped by every expect(): a stream without a match looks again only when it changed. */
  private expGen = 0;
  private readonly scratch = Buffer.alloc(16);
  /**
   * The current packet's capture time (ms since the epoch), file index and frame number, written by
   * the caller of rtp() (the pipeline) just before the call, or by packet().
   */
  readonly clock = new Float64Array(3);

  constructor(opts: RtpTrackerOptions) {
    this.maxStreams = Math.max(1, Math.floor(opts.maxStreams ?? DEFAULTS.maxStreams));
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs;
    this.minPackets = Math.max(MIN_SEQUENTIAL, Math.floor(opts.minPackets ?? DEFAULTS.minPackets));
    this.maxExpectations = Math.max(1, Math.floor(opts.maxExpectations ?? DEFAULTS.maxExpectations));
    this.expectationTtlMs = opts.expectationTtlMs ?? DEFAULTS.expectationTtlMs;
    this.onStreamClosed = opts.onStreamClosed;
    this.onTick = opts.onTick;
    this.cap = Math.min(this.maxStreams, 1024);
    const rows = new ArrayBuffer(this.cap * IW * 4);
    this.I = new Int32Array(rows);
    this.F = new Float64Array(rows);
    this.tab = new Int32Array(this.cap * 2);
    this.tabMask = this.cap * 2 - 1;
    if ((this.tab.length & this.tabMask) !== 0) {
      // maxStreams below 1024 and not a power of two: round the table up.
      let n = 2;
      while (n < this.cap * 2) n *= 2;
      this.tab = new Int32Array(n);
      this.tabMask = n - 1;
    }
  }

  /** Streams held now, candidates included (stats.open counts only those that qualified). */
  get size(): number {
    return this.tracked;
  }

  /** SDP expectations held now. */
  get expectationCount(): number {
    return this.expectations.size;
  }

  // ───────────────────────────── hot path ─────────────────────────────

  /**
   * One RTP-looking payload with its capture time `ts` (ms), file index and frame number: stores
   * those three in `clock`, then rtp(). For callers that are not on a hot path (tests, tools).
   */
  packet(b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, sport: number, dport: number, ts: number, file: number, frame: number): void {
    const c = this.clock;
    c[CLOCK_TS] = ts;
    c[CLOCK_FILE] = file;
    c[CLOCK_FRAME] = frame;
    this.rtp(b, off, end, ipv, ab, srcOff, dstOff, sport, dport);
  }

  /**
   * The per-packet hot path (the pipeline's call): the packet's time, file and frame are read from
   * `clock`, which the caller filled just before. A capture time is a double (ms since the epoch,
   * µs fraction) that does not fit a small integer, so as an argument of a call that V8 does not
   * inline it would be boxed into a fresh heap number on every packet; a typed-array slot is not.
   * Nine arguments instead of twelve, too. Rare branches (a new stream, probation, a resync, a
   * late SDP match, qualification) are methods of their own, so that this body stays small enough
   * to be optimised early in a replay and quickly.
   */
  rtp(b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, sport: number, dport: number): void {
    const clock = this.clock;
    const ts = clock[CLOCK_TS]!;
    if (ts >= this.nextTick && this.onTick !== undefined) {
      this.nextTick = ts + 1000;
      this.onTick(ts);
    }
    if (end - off < 12) return;
    const b1 = b[off + 1]!;
    // RFC 5761 §4: RTCP packet types 200–204 are RTP marker 1 + PT 72–76, which RTP must not use.
    if (b1 >= 200 && b1 <= 204) {
      this.stats.rtcp++;
      return;
    }
    const ssrc = i32(b, off + 8);
    const a0 = i32(ab, srcOff);
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let port = sport;
    if (ipv === 6) {
      a1 = i32(ab, srcOff + 4);
      a2 = i32(ab, srcOff + 8);
      a3 = i32(ab, srcOff + 12);
      port += 65536;
    }
    const key = rtpStreamHash(ssrc, sport, a0, a1, a2, a3);
    let I = this.I;
    const tab = this.tab;
    const mask = this.tabMask;
    let slot = -1;
    let r = 0;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const v = tab[i]!;
      if (v === 0) break;
      r = (v - 1) * IW;
      // An IPv4 row (port < 65536) has a1–a3 zero, as an IPv4 packet's are: three compares fewer.
      if (I[r + I_SSRC] === ssrc && I[r + I_PORT] === port && I[r + I_A0] === a0 &&
          (port < 65536 || (I[r + I_A1] === a1 && I[r + I_A2] === a2 && I[r + I_A3] === a3))) {
        slot = v - 1;
        break;
      }
    }
    if (slot < 0) {
      slot = this.open(key, ssrc, port, a0, a1, a2, a3, ab, dstOff, dport, b1 & 0x7f, (b[off + 2]! << 8) | b[off + 3]!);
      if (slot < 0) return;
      I = this.I; // open() may have grown the arrays
      r = slot * IW;
    } else if ((I[r + I_FLAGS]! & FRESH) !== 0) {
      this.unfresh(slot);
    }
    const F = this.F;
    const q = slot * FW;
    const packets = ++I[r + I_PACKETS]!;
    F[q + F_LASTTS] = ts;
    if (clock[CLOCK_FILE] === F[q + F_FILE]) F[q + F_LASTFRAME] = clock[CLOCK_FRAME]!;

    // Payload length (RFC 3550 §5.1, §5.3.1): fixed header, CSRCs, extension, padding.
    const v = b[off]!;
    const plen = end - off;
    let payload = plen - 12;
    if ((v & 0x3f) !== 0) payload = this.payloadLength(r, b, off, end, v);
    F[q + F_BYTES] += payload;

    // Payload-type counters (bounded): the same PT as before only lengthens its run.
    const pt = b1 & 0x7f;
    if (pt === I[r + I_LASTPT]) I[r + I_PTRUN]!++;
    else this.countPt(r, pt);

    // Late SDP match (the expectation arrived after the first packets): early in the stream only.
    if (packets <= this.minPackets && I[r + I_EXPGEN] !== this.expGen && (I[r + I_FLAGS]! & SDP) === 0) this.matchSdp(slot, pt);

    // RFC 3550 §A.1 update_seq.
    const seq = (b[off + 2]! << 8) | b[off + 3]!;
    const rtp = i32(b, off + 4);
    let accepted = true;
    const maxSeq = I[r + I_MAXSEQ]!;
    const udelta = (seq - maxSeq) & 0xffff;
    if ((I[r + I_FLAGS]! & VALID) === 0) this.probation(r, seq, rtp, pt); // probation > 0
    else if (udelta === 1) {
      // The usual packet: in order and consecutive. Its timestamp step says whether time advances,
      // and between packets of one PT it is the packetisation interval (§5.1 timestamp).
      I[r + I_STEPS]!++;
      const step = (rtp - I[r + I_MAXRTP]!) | 0;
      if (step > 0) {
        I[r + I_TSFWD]!++;
        if (pt === I[r + I_MAXPT]) {
          if (step === I[r + I_TSTEP]) I[r + I_TRUN]!++;
          else this.tallyStep(r, step);
        }
      } else if (step < 0) I[r + I_TSBACK]!++;
      if (seq < maxSeq) I[r + I_CYCLES] += RTP_SEQ_MOD; // seq < max_seq: it wrapped
      I[r + I_MAXSEQ] = seq;
      I[r + I_MAXRTP] = rtp;
      I[r + I_MAXPT] = pt;
      I[r + I_RECEIVED]!++;
    } else accepted = this.updateSeq(r, seq, rtp, pt, udelta);

    // RFC 3550 §A.8 jitter, in RTP timestamp units, arrival time converted to the stream's clock.
    // Every packet except the ones §A.1 discards as a bad jump.
    let flags = I[r + I_FLAGS]!;
    if (accepted) {
      if ((flags & TRANSIT) !== 0) {
        let d = (ts - F[q + F_PREVARR]!) * F[q + F_RATE]! - ((rtp - I[r + I_PREVRTP]!) | 0);
        if (d < 0) d = -d;
        F[q + F_JITTER] += (d - F[q + F_JITTER]!) * 0.0625; // ÷ 16, exact in binary floating point
      } else {
        flags |= TRANSIT;
        I[r + I_FLAGS] = flags;
      }
      F[q + F_PREVARR] = ts;
      I[r + I_PREVRTP] = rtp;
    }

    if ((flags & (VALID | QUALIFIED)) === VALID && packets >= I[r + I_NEXTCHECK]!) this.tryQualify(slot);
  }

  /** Payload length when CSRCs, an extension or padding are present (RFC 3550 §5.1, §5.3.1); counts malformed headers. */
  private payloadLength(r: number, b: Buffer, off: number, end: number, v: number): number {
    const plen = end - off;
    let hdr = 12 + ((v & 15) << 2);
    if ((v & 0x10) !== 0) hdr = hdr + 4 <= plen ? hdr + 4 + (((b[off + hdr + 2]! << 8) | b[off + hdr + 3]!) << 2) : plen + 1;
    let payload = plen - hdr;
    if (payload < 0) {
      this.I[r + I_MALFORMED]!++;
      payload = 0;
    } else if ((v & 0x20) !== 0) {
      const pad = b[end - 1]!;
      if (pad > 0 && pad <= payload) payload -= pad;
      else this.I[r + I_MALFORMED]!++;
    }
    return payload;
  }

  /** RFC 3550 §A.1 update_seq while the source is on probation (every packet of it is accepted). */
  private probation(r: number, seq: number, rtp: number, pt: number): void {
    const I = this.I;
    if (seq === ((I[r + I_MAXSEQ]! + 1) & 0xffff)) {
      I[r + I_PROBATION]!--;
      I[r + I_MAXSEQ] = seq;
      I[r + I_MAXRTP] = rtp;
      I[r + I_MAXPT] = pt;
      if (I[r + I_PROBATION] === 0) {
        initSeq(I, r, seq);
        I[r + I_RECEIVED]!++;
        I[r + I_FLAGS]! |= VALID;
      }
    } else {
      I[r + I_PROBATION] = MIN_SEQUENTIAL - 1;
      I[r + I_MAXSEQ] = seq;
      I[r + I_MAXRTP] = rtp;
      I[r + I_MAXPT] = pt;
    }
  }

  /**
   * RFC 3550 §A.1 update_seq of a valid source for every case but the consecutive packet (which
   * rtp() handles inline): a gap, a duplicate, a reordered packet, a large jump. Returns false for
   * a packet §A.1 discards (a bad jump not yet confirmed).
   */
  private updateSeq(r: number, seq: number, rtp: number, pt: number, udelta: number): boolean {
    const I = this.I;
    if (udelta < MAX_DROPOUT) {
      if (udelta !== 0) {
        // In order, with a permissible gap; seq < max_seq means it wrapped.
        if (seq < I[r + I_MAXSEQ]!) I[r + I_CYCLES] += RTP_SEQ_MOD;
        I[r + I_MAXSEQ] = seq;
        I[r + I_MAXRTP] = rtp;
        I[r + I_MAXPT] = pt;
      }
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A very large jump: resynchronise only if the next packet follows it (the other side restarted).
      if (seq === I[r + I_BADSEQ]) {
        initSeq(I, r, seq);
        I[r + I_MAXRTP] = rtp;
        I[r + I_MAXPT] = pt;
        I[r + I_RESETS]!++;
      } else {
        I[r + I_BADSEQ] = (seq + 1) & 0xffff;
        return false;
      }
    }
    // else: duplicate or reordered packet, counted as received.
    I[r + I_RECEIVED]!++;
    return true;
  }

  /** A packet whose PT differs from the previous one's: close that PT's run, open one for this PT (or count overflow). */
  private countPt(r: number, pt: number): void {
    const I = this.I;
    this.flushPt(r);
    const id = pt + 1;
    for (let i = r + I_PTS; i < r + I_PTS + MAX_PTS * 2; i += 2) {
      const cur = I[i]!;
      if (cur === id || cur === 0) {
        I[i] = id;
        I[r + I_LASTPT] = pt;
        I[r + I_PTRUN] = 1;
        return;
      }
    }
    I[r + I_PTOVER]!++;
    I[r + I_LASTPT] = -1;
  }

  /** Add the current PT run to its counter (which countPt created): before the counters are read. */
  private flushPt(r: number): void {
    const I = this.I;
    const run = I[r + I_PTRUN]!;
    if (run === 0) return;
    const id = I[r + I_LASTPT]! + 1;
    for (let i = r + I_PTS; i < r + I_PTS + MAX_PTS * 2; i += 2) {
      if (I[i] === id) {
        I[i + 1]! += run;
        break;
      }
    }
    I[r + I_PTRUN] = 0;
  }

  /** A timestamp step other than the last one tallied: the last one's run goes into the tally, this one starts a run. */
  private tallyStep(r: number, step: number): void {
    const I = this.I;
    tallyRun(I, r + I_TALLY, I[r + I_TSTEP]!, I[r + I_TRUN]!);
    I[r + I_TSTEP] = step;
    I[r + I_TRUN] = 1;
  }

  /** Put the pending run of timestamp steps into the tally: before the tally is read. */
  private flushTally(r: number): void {
    const I = this.I;
    tallyRun(I, r + I_TALLY, I[r + I_TSTEP]!, I[r + I_TRUN]!);
    I[r + I_TRUN] = 0;
  }

  // ───────────────────────────── opening and closing ─────────────────────────────

  private open(
    key: number, ssrc: number, port: number, a0: number, a1: number, a2: number, a3: number,
    ab: Buffer, dstOff: number, dport: number, pt: number, seq: number,
  ): number {
    const clock = this.clock;
    const ts = clock[CLOCK_TS]!;
    const file = clock[CLOCK_FILE]!;
    const frame = clock[CLOCK_FRAME]!;
    if (this.tracked >= this.maxStreams) {
      // Full: a one-packet candidate (the usual product of random 0x80-prefixed UDP) makes room.
      if (this.freshHead < 0) {
        this.stats.droppedAtCap++;
        return -1;
      }
      this.close(this.freshHead, false);
    }
    if ((this.tracked + 1) * 2 > this.tab.length) this.rehash(this.tab.length * 2);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.high === this.cap) this.grow();
      slot = this.high++;
    }
    const I = this.I;
    const F = this.F;
    const r = slot * IW;
    const q = slot * FW;
    I.fill(0, r, r + IW);
    I[r + I_SSRC] = ssrc;
    I[r + I_PORT] = port;
    I[r + I_A0] = a0;
    I[r + I_A1] = a1;
    I[r + I_A2] = a2;
    I[r + I_A3] = a3;
    I[r + I_D0] = i32(ab, dstOff);
    if (port >= 65536) {
      I[r + I_D0 + 1] = i32(ab, dstOff + 4);
      I[r + I_D0 + 2] = i32(ab, dstOff + 8);
      I[r + I_D0 + 3] = i32(ab, dstOff + 12);
    }
    I[r + I_DPORT] = dport;
    I[r + I_HKEY] = key;
    F[q + F_FILE] = file;
    I[r + I_FLAGS] = ACTIVE | FRESH;
    // §A.1 for a new source: init_seq(s, seq); max_seq = seq − 1; probation = MIN_SEQUENTIAL.
    // packet() then runs update_seq on this first packet like on any other.
    initSeq(I, r, seq);
    I[r + I_MAXSEQ] = (seq - 1) & 0xffff;
    I[r + I_PROBATION] = MIN_SEQUENTIAL;
    I[r + I_MAXPT] = pt;
    I[r + I_LASTPT] = -1;
    I[r + I_NEXTCHECK] = this.minPackets;
    I[r + I_EXPGEN] = this.expGen;
    F[q + F_FIRSTTS] = ts;
    F[q + F_LASTTS] = ts;
    F[q + F_FIRSTFRAME] = frame;
    F[q + F_LASTFRAME] = frame;
    this.setClock(slot, rateOf(undefined, pt));
    this.exps[slot] = undefined;
    // Into the table, and at the tail of the fresh list.
    this.tabInsert(key, slot);
    this.tracked++;
    I[r + I_FPREV] = this.freshTail;
    I[r + I_FNEXT] = -1;
    if (this.freshTail >= 0) I[this.freshTail * IW + I_FNEXT] = slot;
    else this.freshHead = slot;
    this.freshTail = slot;
    if (this.expectations.size > 0) this.matchSdp(slot, pt);
    return slot;
  }

  private grow(): void {
    const cap = Math.min(this.maxStreams, Math.max(1024, this.cap * 2));
    const rows = new ArrayBuffer(cap * IW * 4);
    const I = new Int32Array(rows);
    I.set(this.I); // bit copy of the int32 and float64 fields alike
    this.I = I;
    this.F = new Float64Array(rows);
    this.cap = cap;
  }

  private tabInsert(key: number, slot: number): void {
    const tab = this.tab;
    const mask = this.tabMask;
    let i = key & mask;
    while (tab[i] !== 0) i = (i + 1) & mask;
    tab[i] = slot + 1;
  }

  private rehash(size: number): void {
    this.tab = new Int32Array(size);
    this.tabMask = size - 1;
    for (let slot = 0; slot < this.high; slot++) {
      const r = slot * IW;
      if ((this.I[r + I_FLAGS]! & ACTIVE) !== 0) this.tabInsert(this.I[r + I_HKEY]!, slot);
    }
  }

  /** Linear-probing delete with backward shift (no tombstones): later entries of the cluster move up. */
  private tabDelete(key: number, slot: number): void {
    const tab = this.tab;
    const mask = this.tabMask;
    const I = this.I;
    let hole = key & mask;
    while (tab[hole] !== slot + 1) {
      if (tab[hole] === 0) return; // not there (cannot happen)
      hole = (hole + 1) & mask;
    }
    for (let j = (hole + 1) & mask; tab[j] !== 0; j = (j + 1) & mask) {
      const v = tab[j]!;
      const home = I[(v - 1) * IW + I_HKEY]! & mask;
      // v may fill the hole when the hole lies on its probe path, home → j.
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        tab[hole] = v;
        hole = j;
      }
    }
    tab[hole] = 0;
  }

  private setClock(slot: number, rate: number): void {
    this.I[slot * IW + I_CLOCK] = rate;
    this.F[slot * FW + F_RATE] = rate / 1000;
  }

  private unfresh(slot: number): void {
    const I = this.I;
    const r = slot * IW;
    const prev = I[r + I_FPREV]!;
    const next = I[r + I_FNEXT]!;
    if (prev >= 0) I[prev * IW + I_FNEXT] = next;
    else this.freshHead = next;
    if (next >= 0) I[next * IW + I_FPREV] = prev;
    else this.freshTail = prev;
    I[r + I_FLAGS]! &= ~FRESH;
  }

  /** Take the stream out of the table and free its slot. */
  private remove(slot: number): void {
    const I = this.I;
    const r = slot * IW;
    if ((I[r + I_FLAGS]! & FRESH) !== 0) this.unfresh(slot);
    this.tabDelete(I[r + I_HKEY]!, slot);
    I[r + I_FLAGS] = 0;
    this.F[slot * FW + F_LASTTS] = Infinity; // never idle: sweep() reads this word only
    this.exps[slot] = undefined;
    this.tracked--;
    this.freeSlots.push(slot);
  }

  /** Report (if it qualifies) or reject, then forget. The callback runs after the state is consistent. */
  private close(slot: number, report: boolean): void {
    const flags = this.I[slot * IW + I_FLAGS]!;
    const qualified = (flags & QUALIFIED) !== 0 || this.tryQualify(slot);
    const out = qualified && report ? this.toStats(slot, false) : undefined;
    if (qualified) this.stats.open--;
    else this.stats.rejected++;
    this.remove(slot);
    if (out) this.onStreamClosed(out);
  }

  // ───────────────────────────── qualification ─────────────────────────────

  private tryQualify(slot: number): boolean {
    const I = this.I;
    const r = slot * IW;
    if ((I[r + I_FLAGS]! & VALID) === 0) return false;
    if ((I[r + I_FLAGS]! & SDP) === 0 && I[r + I_EXPGEN] !== this.expGen) this.matchSdp(slot, I[r + I_MAXPT]!);
    if ((I[r + I_FLAGS]! & SDP) !== 0 || this.heuristic(r)) {
      I[r + I_FLAGS]! |= QUALIFIED;
      this.stats.streams++;
      this.stats.open++;
      return true;
    }
    I[r + I_NEXTCHECK] = I[r + I_PACKETS]! + RECHECK_EVERY;
    return false;
  }

  /** Looks like RTP over time without SDP (see the module comment). Cheap, but not per packet. */
  private heuristic(r: number): boolean {
    const I = this.I;
    const packets = I[r + I_PACKETS]!;
    if (packets < this.minPackets || I[r + I_PTOVER]! > 0) return false;
    this.flushPt(r);
    // Sequence mostly consecutive, few malformed headers, timestamps advancing (events may hold them).
    const steps = I[r + I_STEPS]!;
    if (steps * 2 < packets || I[r + I_MALFORMED]! * 10 > packets) return false;
    if (I[r + I_TSFWD] === 0 || I[r + I_TSBACK]! * 10 > steps) return false;
    // Payload type stable: one PT carries at least half; ≤ 2 static audio PTs, ≤ 2 dynamic
    // (a dynamic codec and/or telephone-event), ≤ 3 together; CN (13, 19) is free.
    let top = 0;
    let total = 0;
    let statics = 0;
    let dynamics = 0;
    for (let i = r + I_PTS; i < r + I_PTS + MAX_PTS * 2; i += 2) {
      const id = I[i]!;
      if (id === 0) break;
      const c = I[i + 1]!;
      total += c;
      if (c > top) top = c;
      const pt = id - 1;
      if (pt === 13 || pt === 19) continue;
      if (pt >= 96) dynamics++;
      else statics++;
    }
    return top * 2 >= total && statics <= 2 && dynamics <= 2 && statics + dynamics <= 3;
  }

  // ───────────────────────────── SDP ─────────────────────────────

  /** An SDP announced media to ip:port for a call. Port 0 (a refused stream, RFC 3264 §6) is ignored. */
  expect(e: MediaExpectation): void {
    if (!Number.isInteger(e.port) || e.port <= 0 || e.port > 65535) return;
    const key = expectationKey(e.ip, e.port);
    if (key === undefined) return;
    // Re-inserted at the end: the newest offer/answer for an address wins and is evicted last.
    this.expectations.delete(key);
    if (this.expectations.size >= this.maxExpectations) {
      const oldest = this.expectations.keys().next();
      if (!oldest.done) this.expectations.delete(oldest.value);
    }
    this.expectations.set(key, e);
    this.expGen = (this.expGen + 1) | 0;
  }

  private matchSdp(slot: number, pt: number): void {
    const I = this.I;
    const r = slot * IW;
    I[r + I_EXPGEN] = this.expGen;
    if (this.expectations.size === 0) return;
    const d = r + I_D0;
    const dport = I[r + I_DPORT]!;
    const key = I[r + I_PORT]! < 65536
      ? (I[d]! >>> 0) * 65536 + dport
      : `${I[d]! >>> 0}:${I[d + 1]! >>> 0}:${I[d + 2]! >>> 0}:${I[d + 3]! >>> 0}|${dport}`;
    const e = this.expectations.get(key);
    if (e === undefined || e.ts + this.expectationTtlMs < this.F[slot * FW + F_FIRSTTS]!) return;
    this.exps[slot] = e;
    I[r + I_FLAGS]! |= SDP;
    I[r + I_NEXTCHECK] = 0;
    const rate = rateOf(e, pt);
    if (rate !== I[r + I_CLOCK]) {
      // The clock was a guess: jitter and ptime restart in the announced clock.
      this.setClock(slot, rate);
      this.F[slot * FW + F_JITTER] = 0;
      I[r + I_FLAGS]! &= ~TRANSIT;
      I.fill(0, r + I_TALLY, r + I_TALLY + TALLY * 2);
      I[r + I_TSTEP] = 0;
      I[r + I_TRUN] = 0;
    }
  }

  // ───────────────────────────── timers and output ─────────────────────────────

  sweep(now: number): void {
    const limit = now - this.idleTimeoutMs;
    // One float per row (a free row's last time is +∞): a scan of 40,000 rows is a few ms at worst.
    for (let slot = 0; slot < this.high; slot++) {
      if (this.F[slot * FW + F_LASTTS]! < limit) this.close(slot, true);
    }
    const ttl = this.expectationTtlMs;
    for (const [k, e] of this.expectations) {
      if (e.ts + ttl >= now) break;
      this.expectations.delete(k);
    }
  }

  flush(): void {
    for (let slot = 0; slot < this.high; slot++) {
      if ((this.I[slot * IW + I_FLAGS]! & ACTIVE) !== 0) this.close(slot, true);
    }
  }

  snapshot(): RtpStreamStats[] {
    const out: RtpStreamStats[] = [];
    for (let slot = 0; slot < this.high; slot++) {
      const flags = this.I[slot * IW + I_FLAGS]!;
      if ((flags & ACTIVE) === 0) continue;
      if ((flags & QUALIFIED) !== 0 || this.tryQualify(slot)) out.push(this.toStats(slot, true));
    }
    return out;
  }

  private toStats(slot: number, open: boolean): RtpStreamStats {
    const I = this.I;
    const F = this.F;
    const r = slot * IW;
    const q = slot * FW;
    this.flushPt(r);
    this.flushTally(r);
    const payloadTypes: Record<number, number> = {};
    let payloadType = -1;
    let best = -1;
    for (let i = r + I_PTS; i < r + I_PTS + MAX_PTS * 2; i += 2) {
      const id = I[i]!;
      if (id === 0) break;
      const c = I[i + 1]!;
      payloadTypes[id - 1] = c;
      if (c > best) {
        best = c;
        payloadType = id - 1;
      }
    }
    let step = 0;
    let stepCount = 0;
    for (let i = r + I_TALLY; i < r + I_TALLY + TALLY * 2; i += 2) {
      if (I[i + 1]! > stepCount) {
        stepCount = I[i + 1]!;
        step = I[i]!;
      }
    }
    const valid = (I[r + I_FLAGS]! & VALID) !== 0;
    const expected = valid ? I[r + I_CYCLES]! + I[r + I_MAXSEQ]! - I[r + I_BASESEQ]! + 1 : 0;
    const exp = this.exps[slot];
    const clock = I[r + I_CLOCK]!;
    const ipv = I[r + I_PORT]! >= 65536 ? 6 : 4;
    const firstFrame = F[q + F_FIRSTFRAME]!;
    const lastFrame = F[q + F_LASTFRAME]!;
    const codec = codecOf(exp, payloadType);
    const out: RtpStreamStats = {
      src: { ip: this.ipText(ipv, r + I_A0, r + I_A1), port: I[r + I_PORT]! & 0xffff },
      dst: { ip: this.ipText(ipv, r + I_D0, r + I_D0 + 1), port: I[r + I_DPORT]! },
      ssrc: I[r + I_SSRC]! >>> 0,
      payloadType,
      payloadTypes,
      clockRate: clock,
      packets: I[r + I_PACKETS]!,
      payloadBytes: F[q + F_BYTES]!,
      expected,
      lost: Math.max(0, expected - I[r + I_RECEIVED]!),
      jitterMs: (F[q + F_JITTER]! / clock) * 1000,
      firstTs: F[q + F_FIRSTTS]!,
      lastTs: F[q + F_LASTTS]!,
      ref: { file: F[q + F_FILE]!, frames: lastFrame === firstFrame ? [firstFrame] : [firstFrame, lastFrame] },
      foundBy: exp ? 'sdp' : 'heuristic',
    };
    if (codec !== undefined) out.codec = codec;
    if (stepCount > 0) out.ptimeMs = (step / clock) * 1000;
    if (exp) out.callId = exp.callId;
    if (open) out.open = true;
    return out;
  }

  /** The address whose first word is I[w0] and whose other three (IPv6) start at I[rest]. */
  private ipText(ipv: 4 | 6, w0: number, rest: number): string {
    const I = this.I;
    if (ipv === 4) return ipv4FromNumber(I[w0]! >>> 0);
    const b = this.scratch;
    b.writeInt32BE(I[w0]!, 0);
    for (let k = 1; k < 4; k++) b.writeInt32BE(I[rest + k - 1]!, k * 4);
    return ipv6At(b, 0);
  }
}

/** RFC 3550 §A.1 init_seq, on the row at r. */
function initSeq(I: Int32Array, r: number, seq: number): void {
  I[r + I_BASESEQ] = seq;
  I[r + I_MAXSEQ] = seq;
  I[r + I_BADSEQ] = RTP_SEQ_MOD + 1;
  I[r + I_CYCLES] = 0;
  I[r + I_RECEIVED] = 0;
}

/**
 * Misra–Gries with TALLY counters at I[base…], fed `count` times the same step: exactly what as
 * many one-at-a-time updates would do (each either finds the step, takes the first free counter,
 * or takes one off every counter), the majority timestamp step survives.
 */
function tallyRun(I: Int32Array, base: number, step: number, count: number): void {
  while (count > 0) {
    let free = -1;
    for (let i = base; i < base + TALLY * 2; i += 2) {
      if (I[i + 1]! > 0) {
        if (I[i] === step) {
          I[i + 1]! += count;
          return;
        }
      } else if (free < 0) free = i;
    }
    if (free >= 0) {
      I[free] = step;
      I[free + 1] = count;
      return;
    }
    // Every counter is taken by another step: the next min(smallest counter, count) updates each
    // take one off every counter, then a counter is free for the rest.
    let d = count;
    for (let i = base + 1; i < base + TALLY * 2; i += 2) if (I[i]! < d) d = I[i]!;
    for (let i = base + 1; i < base + TALLY * 2; i += 2) I[i]! -= d;
    count -= d;
  }
}

/** Clock rate of `pt`: the SDP's, else the RFC 3551 static one, else 8000. */
function rateOf(e: MediaExpectation | undefined, pt: number): number {
  if (e) {
    for (const p of e.payloads) if (p.pt === pt && p.clockRate !== undefined && p.clockRate > 0) return p.clockRate;
  }
  return staticRate[pt] || 8000;
}

function codecOf(e: MediaExpectation | undefined, pt: number): string | undefined {
  if (e) {
    for (const p of e.payloads) if (p.pt === pt && p.codec !== undefined && p.codec !== '') return p.codec;
  }
  return pt >= 0 && pt < 128 ? staticName[pt] : undefined;
}

/** The key an expectation and a stream destination share, or undefined for an address that is not an IP. */
function expectationKey(ip: string, port: number): number | string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const o = v4.slice(1, 5).map(Number);
    if (o.some((x) => x > 255)) return undefined;
    return ((o[0]! * 256 + o[1]!) * 256 + o[2]!) * 256 * 65536 + o[3]! * 65536 + port;
  }
  const w = ipv6Words(ip);
  return w === undefined ? undefined : `${w[0]}:${w[1]}:${w[2]}:${w[3]}|${port}`;
}

/** RFC 4291 §2.2 text (with "::" and a trailing dotted quad; brackets and a zone are dropped) → 4 uint32 words. */
export function ipv6Words(text: string): [number, number, number, number] | undefined {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const pct = t.indexOf('%');
  if (pct >= 0) t = t.slice(0, pct);
  if (!t.includes(':')) return undefined;
  const parseSide = (side: string): number[] | undefined => {
    if (side === '') return [];
    const groups: number[] = [];
    const parts = side.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const q = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(p);
        if (!q) return undefined;
        const o = q.slice(1, 5).map(Number);
        if (o.some((x) => x > 255)) return undefined;
        groups.push(o[0]! * 256 + o[1]!, o[2]! * 256 + o[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        groups.push(parseInt(p, 16));
      }
    }
    return groups;
  };
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const head = parseSide(halves[0]!);
  const tail = halves.length === 2 ? parseSide(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  return [0, 1, 2, 3].map((i) => (groups[i * 2]! * 65536 + groups[i * 2 + 1]!) >>> 0) as [number, number, number, number];
}
