/**
 * RtpTracker (src/behaviour/rtp.ts): RFC 3550 per-stream statistics from RTP payloads fed the way
 * the capture pipeline feeds them (payload offsets into a buffer, addresses read from another).
 * Expected values are worked out here from the RFC, not read back from the implementation:
 *   §A.1 sequence validation (probation of MIN_SEQUENTIAL = 2: base_seq and received start at the
 *        packet that ends probation), §A.3 expected = extended max − base_seq + 1, lost = expected −
 *        received, §A.8 jitter J += (|D| − J)/16 in timestamp units, RFC 5761 §4 RTCP demultiplexing.
 * The last test compares packet counts per stream with tshark on a real sipp G.711 capture.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RtpTracker, rtpStreamHash, staticPayloadType, type RtpTrackerOptions } from '../../../src/behaviour/rtp.js';
import type { MediaExpectation, RtpStreamStats } from '../../../src/behaviour/types.js';
import { readCaptureFile } from '../../../src/capture/file-source.js';
import { seededRandom } from '../../helpers/random.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const T0 = 1_700_000_000_000;

interface RtpHeader {
  seq: number;
  ts: number;
  ssrc: number;
  pt?: number;
  marker?: boolean;
  /** CSRC identifiers (CC). */
  csrcs?: number;
  /** Header extension length in 32-bit words (X bit). */
  extWords?: number;
  /** Padding bytes appended, the last one holding the count (P bit); `padByte` overrides the count. */
  pad?: number;
  padByte?: number;
  payload?: number;
}

/** An RTP packet, RFC 3550 §5.1 / §5.3.1 layout. */
function rtp(h: RtpHeader): Buffer {
  const cc = h.csrcs ?? 0;
  const ext = h.extWords === undefined ? 0 : 4 + h.extWords * 4;
  const pad = h.pad ?? 0;
  const b = Buffer.alloc(12 + cc * 4 + ext + (h.payload ?? 20) + pad, 0x55);
  b[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (h.extWords !== undefined ? 0x10 : 0) | cc;
  b[1] = (h.marker ? 0x80 : 0) | (h.pt ?? 18);
  b.writeUInt16BE(h.seq & 0xffff, 2);
  b.writeUInt32BE(h.ts >>> 0, 4);
  b.writeUInt32BE(h.ssrc >>> 0, 8);
  for (let i = 0; i < cc; i++) b.writeUInt32BE(0x1000 + i, 12 + i * 4);
  if (h.extWords !== undefined) {
    b.writeUInt16BE(0xbede, 12 + cc * 4);
    b.writeUInt16BE(h.extWords, 14 + cc * 4);
  }
  if (pad > 0) b[b.length - 1] = h.padByte ?? pad;
  return b;
}

/** RTCP SR (PT 200) or RR (201) header with an SSRC: 8 + 20 bytes is enough for the demultiplexer. */
function rtcp(pt: 200 | 201, ssrc: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  return b;
}

function v4(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}
function v6(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

interface Flow {
  src: string | Buffer;
  dst: string | Buffer;
  sport: number;
  dport: number;
}
const A: Flow = { src: '192.168.1.10', dst: '192.168.1.20', sport: 40000, dport: 30000 };
const B: Flow = { src: '192.168.1.20', dst: '192.168.1.10', sport: 30000, dport: 40000 };

class Harness {
  closed: RtpStreamStats[] = [];
  t: RtpTracker;
  frame = 0;
  constructor(opts: Partial<RtpTrackerOptions> = {}) {
    this.t = new RtpTracker({ ...opts, onStreamClosed: (s) => this.closed.push(s) });
  }
  /** Feed one payload the way the pipeline does: the payload at an offset inside a bigger buffer. */
  send(f: Flow, pkt: Buffer, ts: number): void {
    const src = typeof f.src === 'string' ? v4(f.src) : f.src;
    const dst = typeof f.dst === 'string' ? v4(f.dst) : f.dst;
    const ipv = src.length === 4 ? 4 : 6;
    const ab = Buffer.concat([Buffer.alloc(3), src, dst]);
    const frame = Buffer.concat([Buffer.alloc(42), pkt, Buffer.alloc(4, 0xee)]);
    this.t.packet(frame, 42, 42 + pkt.length, ipv, ab, 3, 3 + src.length, f.sport, f.dport, ts, 0, ++this.frame);
  }
  /** A regular stream: n packets, sequence +1, timestamp +step, arrival every `intervalMs` (plus offsets). */
  stream(f: Flow, n: number, o: { ssrc?: number; seq0?: number; ts0?: number; step?: number; pt?: number; payload?: number; intervalMs?: number; t0?: number; skip?: Set<number>; arrivalOffsetMs?: (i: number) => number } = {}): void {
    const step = o.step ?? 160;
    const interval = o.intervalMs ?? 20;
    for (let i = 0; i < n; i++) {
      if (o.skip?.has(i)) continue;
      const pkt = rtp({ seq: (o.seq0 ?? 1000) + i, ts: (o.ts0 ?? 5000) + i * step, ssrc: o.ssrc ?? 0x11223344, pt: o.pt ?? 18, payload: o.payload ?? 20 });
      this.send(f, pkt, (o.t0 ?? T0) + i * interval + (o.arrivalOffsetMs?.(i) ?? 0));
    }
  }
  one(): RtpStreamStats {
    this.t.flush();
    expect(this.closed).toHaveLength(1);
    return this.closed[0]!;
  }
}

describe('a clean stream', () => {
  it('20 ms G.729 (PT 18): ptime 20, no loss, jitter 0, codec from the RFC 3551 static table', () => {
    const h = new Harness();
    h.stream(A, 50, { ssrc: 0xdeadbeef, payload: 20 });
    const s = h.one();
    expect(s).toMatchObject({
      src: { ip: '192.168.1.10', port: 40000 }, dst: { ip: '192.168.1.20', port: 30000 },
      ssrc: 0xdeadbeef, payloadType: 18, payloadTypes: { 18: 50 }, codec: 'G729', clockRate: 8000,
      packets: 50, payloadBytes: 50 * 20, foundBy: 'heuristic', firstTs: T0, lastTs: T0 + 49 * 20,
      ref: { file: 0, frames: [1, 50] },
      // §A.1: probation ends at the 2nd packet (seq 1001) → base_seq 1001, max 1049 → 49 expected, 49 received.
      expected: 49, lost: 0, ptimeMs: 20,
    });
    expect(s.jitterMs).toBe(0);
    expect(s.callId).toBeUndefined();
    expect(s.open).toBeUndefined();
    expect(h.t.stats).toMatchObject({ streams: 1, open: 0, rejected: 0, rtcp: 0, droppedAtCap: 0 });
  });

  it('the static table gives clock rates (RFC 3551 §6)', () => {
    expect(staticPayloadType(0)).toEqual({ codec: 'PCMU', clockRate: 8000 });
    expect(staticPayloadType(6)).toEqual({ codec: 'DVI4', clockRate: 16000 });
    expect(staticPayloadType(9)).toEqual({ codec: 'G722', clockRate: 8000 });
    expect(staticPayloadType(34)).toEqual({ codec: 'H263', clockRate: 90000 });
    expect(staticPayloadType(101)).toBeUndefined();
  });

  it('counts telephone-event packets under their own PT and still finds the 20 ms ptime of the audio', () => {
    const h = new Harness();
    for (let i = 0; i < 60; i++) {
      const event = i >= 30 && i < 36; // an RFC 4733 event: timestamp held at the event start
      const pkt = rtp({ seq: 200 + i, ts: event ? 30 * 160 : i * 160, ssrc: 7, pt: event ? 101 : 8, payload: event ? 4 : 160 });
      h.send(A, pkt, T0 + i * 20);
    }
    const s = h.one();
    expect(s).toMatchObject({ payloadType: 8, payloadTypes: { 8: 54, 101: 6 }, codec: 'PCMA', ptimeMs: 20, lost: 0, foundBy: 'heuristic' });
  });
});

describe('sequence numbers (RFC 3550 §A.1, §A.3)', () => {
  const cases: Array<[string, number[], { expected: number; lost: number; packets: number }]> = [
    // 0..99 without 10, 11, 50: base 1 (probation ends at seq 1), max 99 → expected 99; received 96 (97 sent minus seq 0).
    ['three dropped', seqs(0, 100).filter((s) => s !== 10 && s !== 11 && s !== 50), { expected: 99, lost: 3, packets: 97 }],
    // Pairs swapped: every packet arrives, max still reaches 49.
    ['reordered pairs', swapPairs(seqs(0, 50), 10), { expected: 49, lost: 0, packets: 50 }],
    // Five duplicates: received exceeds expected by 5; lost is clamped at 0, never −5.
    ['duplicates', [...seqs(0, 30), 25, 26, 27, 28, 29, ...seqs(30, 40)], { expected: 39, lost: 0, packets: 45 }],
    // One lost and one late (reordered by 3): only the lost one counts.
    ['late and lost', [...seqs(0, 21), 23, 21, 22, 24, ...seqs(26, 40)], { expected: 39, lost: 1, packets: 39 }],
    // Starting at 65500 and crossing 65535 → 0: cycles = 65536, extended max 65536 + 63.
    ['wrap at 65535', seqs(65500, 65600).map((s) => s & 0xffff), { expected: 65536 + 63 - 65501 + 1, lost: 0, packets: 100 }],
  ];
  it.each(cases)('%s', (_name, order, want) => {
    const h = new Harness();
    order.forEach((seq, i) => h.send(A, rtp({ seq, ts: 1000 + ((seq - order[0]! + 65536) % 65536) * 160, ssrc: 42 }), T0 + i * 20));
    const s = h.one();
    expect({ expected: s.expected, lost: s.lost, packets: s.packets }).toEqual(want);
  });

  it('a jump past MAX_DROPOUT is discarded unless the next packet follows it (then the source restarted)', () => {
    const h = new Harness();
    const order = [...seqs(0, 30), 20000, ...seqs(30, 40), 40000, 40001, 40002];
    order.forEach((seq, i) => h.send(A, rtp({ seq, ts: i * 160, ssrc: 43 }), T0 + i * 20));
    const s = h.one();
    // 20000 is discarded (bad_seq = 20001); 40000 then 40001 → init_seq(40001): base 40001, max 40002, received 2.
    expect({ expected: s.expected, lost: s.lost, packets: s.packets }).toEqual({ expected: 2, lost: 0, packets: 44 });
  });
});

function seqs(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
function swapPairs(a: number[], start: number): number[] {
  const r = [...a];
  for (let i = start; i + 1 < r.length; i += 4) [r[i], r[i + 1]] = [r[i + 1]!, r[i]!];
  return r;
}

describe('interarrival jitter (RFC 3550 §A.8)', () => {
  /** §A.8 step by step: D(i−1,i) = (R_i − R_{i−1}) − (S_i − S_{i−1}) in timestamp units, J += (|D| − J)/16. */
  function expectedJitterMs(arrivalsMs: number[], rtpTs: number[], clock: number): number {
    let j = 0;
    for (let i = 1; i < arrivalsMs.length; i++) {
      const d = (arrivalsMs[i]! - arrivalsMs[i - 1]!) * (clock / 1000) - (rtpTs[i]! - rtpTs[i - 1]!);
      j = j + (Math.abs(d) - j) / 16;
    }
    return (j / clock) * 1000;
  }
  const patterns: Array<[string, (i: number) => number]> = [
    ['on time', () => 0],
    ['alternating ±2 ms', (i) => (i % 2 === 0 ? 2 : -2)],
    ['every 10th packet 15 ms late', (i) => (i % 10 === 9 ? 15 : 0)],
    ['a fixed wobble', (i) => [0, 3, -1, 7, 2, -4, 0.5][i % 7]!],
  ];
  it.each(patterns)('%s', (_name, offset) => {
    const h = new Harness();
    const n = 80;
    const arrivals = Array.from({ length: n }, (_, i) => T0 + i * 20 + offset(i));
    const stamps = Array.from({ length: n }, (_, i) => 1234 + i * 160);
    for (let i = 0; i < n; i++) h.send(A, rtp({ seq: 10 + i, ts: stamps[i]!, ssrc: 5 }), arrivals[i]!);
    expect(h.one().jitterMs).toBeCloseTo(expectedJitterMs(arrivals, stamps, 8000), 9);
  });

  it('handles the 32-bit RTP timestamp wrapping mid-stream', () => {
    const h = new Harness();
    h.stream(A, 40, { ts0: 0xffffffff - 160 * 20, arrivalOffsetMs: (i) => (i === 30 ? 4 : 0) });
    const s = h.one();
    // One 4 ms late packet (32 units): D = 32 then −32 → J = 2 then 2 + (32 − 2)/16 = 3.875, decaying 15/16 per packet after.
    let j = 0;
    for (let i = 1; i < 40; i++) j += (Math.abs(i === 30 ? 32 : i === 31 ? -32 : 0) - j) / 16;
    expect(s.jitterMs).toBeCloseTo((j / 8000) * 1000, 9);
    expect(s.ptimeMs).toBe(20);
  });
});

describe('RTCP on the RTP port (RFC 5761 §4)', () => {
  it('counts SR/RR as rtcp, not as stream packets', () => {
    const h = new Harness();
    for (let i = 0; i < 40; i++) {
      h.send(A, rtp({ seq: i, ts: i * 160, ssrc: 9 }), T0 + i * 20);
      if (i % 10 === 5) h.send(A, rtcp(i % 20 === 5 ? 200 : 201, 9), T0 + i * 20 + 1);
    }
    // A marker bit on an ordinary PT is still RTP (second byte 0x80 | 18 = 146).
    h.send(A, rtp({ seq: 40, ts: 40 * 160, ssrc: 9, marker: true }), T0 + 800);
    const s = h.one();
    expect(h.t.stats.rtcp).toBe(4);
    expect(s.packets).toBe(41);
    expect(s.payloadTypes).toEqual({ 18: 41 });
  });
});

describe('SDP expectations', () => {
  const opus: MediaExpectation = {
    ip: '192.168.1.20', port: 30000, callId: 'call-1@pbx', ts: T0 - 500,
    payloads: [{ pt: 111, codec: 'opus', clockRate: 48000 }, { pt: 101, codec: 'telephone-event', clockRate: 48000 }],
  };

  it('a stream to the announced ip:port is foundBy sdp, with the call and the rtpmap codec and clock', () => {
    const h = new Harness();
    h.t.expect(opus);
    h.stream(A, 50, { pt: 111, step: 960, arrivalOffsetMs: (i) => (i === 20 ? 3 : 0) });
    const s = h.one();
    expect(s).toMatchObject({ foundBy: 'sdp', callId: 'call-1@pbx', codec: 'opus', clockRate: 48000, payloadType: 111, ptimeMs: 20, lost: 0 });
    // 3 ms late at 48 kHz = 144 units; with an 8 kHz guess it would read the same ms only by accident of scaling.
    expect(s.jitterMs).toBeGreaterThan(0);
    expect(s.jitterMs).toBeLessThan(3);
  });

  it('reports an SDP-matched stream from the end of probation, below minPackets', () => {
    const h = new Harness();
    h.t.expect(opus);
    h.stream(A, 3, { pt: 111, step: 960 });
    expect(h.one()).toMatchObject({ foundBy: 'sdp', packets: 3, expected: 2 });
  });

  it('matches an expectation that arrives after the first packets', () => {
    const h = new Harness();
    h.stream(A, 2, { pt: 111, step: 960 });
    h.t.expect(opus);
    h.stream(A, 10, { pt: 111, step: 960, seq0: 1002, ts0: 5000 + 2 * 960, t0: T0 + 40 });
    expect(h.one()).toMatchObject({ foundBy: 'sdp', callId: 'call-1@pbx', clockRate: 48000, packets: 12, ptimeMs: 20 });
  });

  it('does not match another port, an expired expectation, or an evicted one', () => {
    const h = new Harness({ maxExpectations: 2, expectationTtlMs: 60_000 });
    h.t.expect({ ...opus, port: 30002 });
    h.t.expect({ ...opus, port: 30004, ts: T0 - 120_000 });
    h.t.expect({ ...opus, port: 30006, callId: 'c3' });
    h.t.expect({ ...opus, port: 30008, callId: 'c4' }); // evicts 30002 (the oldest)
    expect(h.t.expectationCount).toBe(2);
    h.t.expect({ ...opus, port: 0 }); // a refused m= line (RFC 3264 §6): ignored
    h.t.expect({ ...opus, ip: 'not-an-ip' });
    for (const port of [30000, 30002, 30004, 30006]) h.stream({ ...A, dport: port }, 25, { pt: 0, ssrc: port });
    h.t.flush();
    const by = Object.fromEntries(h.closed.map((s) => [s.dst.port, s.foundBy]));
    expect(by).toEqual({ 30000: 'heuristic', 30002: 'heuristic', 30004: 'heuristic', 30006: 'sdp' });
  });

  it('sweep forgets expectations older than the TTL', () => {
    const h = new Harness({ expectationTtlMs: 1000 });
    h.t.expect({ ...opus, ts: T0 });
    h.t.sweep(T0 + 1000);
    expect(h.t.expectationCount).toBe(1);
    h.t.sweep(T0 + 1001);
    expect(h.t.expectationCount).toBe(0);
  });
});

describe('random UDP that starts with 0x80 never becomes a stream', () => {
  const rnd = seededRandom(5761);
  const junk = (n: number, fill: (b: Buffer, i: number) => void): Buffer[] =>
    Array.from({ length: n }, (_, i) => {
      const b = Buffer.alloc(12 + Math.floor(rnd() * 200));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256);
      b[0] = 0x80 | (b[0]! & 0x3f);
      if (b[1]! >= 200 && b[1]! <= 204) b[1] = 0; // keep it out of the RTCP count
      fill(b, i);
      return b;
    });
  const cases: Array<[string, Buffer[]]> = [
    ['random bytes (a new SSRC every packet)', junk(3000, () => {})],
    ['a fixed SSRC, random sequence and timestamp', junk(3000, (b) => b.writeUInt32BE(0xabcdef01, 8))],
    ['the same 12-byte header repeated', junk(500, (b) => { b.writeUInt32BE(0x80001234, 0); b.writeUInt32BE(77, 4); b.writeUInt32BE(99, 8); })],
    ['a counter as sequence, random PT and timestamp', junk(3000, (b, i) => { b.writeUInt16BE(i & 0xffff, 2); b.writeUInt32BE(0x5555, 8); })],
    ['a counter as sequence and timestamp, random PT', junk(3000, (b, i) => { b.writeUInt16BE(i & 0xffff, 2); b.writeUInt32BE(i * 160, 4); b.writeUInt32BE(0x6666, 8); })],
  ];
  it.each(cases)('%s', (_name, packets) => {
    const h = new Harness();
    packets.forEach((p, i) => h.send(A, p, T0 + i * 20));
    expect(h.t.snapshot()).toEqual([]);
    h.t.flush();
    expect(h.closed).toEqual([]);
    expect(h.t.stats.streams).toBe(0);
    expect(h.t.stats.rejected).toBeGreaterThan(0);
    expect(h.t.size).toBe(0);
  });
});

describe('lifecycle and bounds', () => {
  it('sweep closes a stream idle longer than idleTimeoutMs (capture time), and rejects a lone candidate', () => {
    const h = new Harness({ idleTimeoutMs: 30_000 });
    h.stream(A, 50); // last packet at T0 + 980
    h.send(B, rtp({ seq: 1, ts: 1, ssrc: 99 }), T0 + 500);
    h.t.sweep(T0 + 980 + 30_000);
    expect(h.closed).toHaveLength(0);
    expect(h.t.stats.open).toBe(1);
    h.t.sweep(T0 + 980 + 30_001);
    expect(h.closed).toHaveLength(1);
    expect(h.closed[0]).toMatchObject({ packets: 50, lastTs: T0 + 980 });
    expect(h.t.stats).toMatchObject({ streams: 1, open: 0, rejected: 1 });
    expect(h.t.size).toBe(0);
    // The same key later is a new stream.
    h.stream(A, 30, { t0: T0 + 100_000 });
    h.t.flush();
    expect(h.closed).toHaveLength(2);
    expect(h.t.stats.streams).toBe(2);
  });

  it('maxStreams: a one-packet candidate makes room; with none, packets of new streams count as droppedAtCap', () => {
    const h = new Harness({ maxStreams: 3 });
    h.stream(A, 25, { ssrc: 1 });
    h.stream(A, 25, { ssrc: 2 });
    h.send(A, rtp({ seq: 1, ts: 1, ssrc: 3 }), T0 + 600); // a candidate with one packet
    h.stream(A, 25, { ssrc: 4, t0: T0 + 700 }); // evicts ssrc 3, then holds the third place
    expect(h.t.stats).toMatchObject({ rejected: 1, droppedAtCap: 0 });
    h.stream(A, 10, { ssrc: 5, t0: T0 + 800 }); // table full of real streams
    expect(h.t.stats.droppedAtCap).toBe(10);
    expect(h.t.size).toBe(3);
    h.t.flush();
    expect(h.closed.map((s) => s.ssrc).sort()).toEqual([1, 2, 4]);
  });

  it('snapshot() copies open streams without closing them', () => {
    const h = new Harness();
    h.stream(A, 30);
    h.stream(B, 5, { ssrc: 77 }); // not yet qualified: left out
    const snap = h.t.snapshot();
    expect(snap).toHaveLength(1);
    expect(snap[0]).toMatchObject({ packets: 30, open: true });
    expect(h.t.stats).toMatchObject({ open: 1, streams: 1 });
    h.stream(A, 20, { seq0: 1030, ts0: 5000 + 30 * 160, t0: T0 + 600 });
    snap[0]!.packets = -1; // a copy: changing it changes nothing inside
    h.t.flush();
    const s = h.closed.find((x) => x.ssrc === 0x11223344)!;
    expect(s.packets).toBe(50);
    expect(s.open).toBeUndefined();
    expect(h.t.stats).toMatchObject({ open: 0, streams: 1, rejected: 1 });
  });

  // The second source opened is the head of the chain: stopping it first removes the head, stopping the first removes from inside.
  it.each([['the chain head', 1], ['an inner chain entry', 0]] as const)('keeps two sources with the same SSRC and port apart when their table keys collide; closing %s', (_name, stopIdx) => {
    // 30-bit keys: a birthday search over random addresses finds a collision in ~40,000 tries.
    const rnd = seededRandom(3550);
    const seen = new Map<number, number>();
    let pair: [number, number] | undefined;
    for (let tries = 0; pair === undefined && tries < 2_000_000; tries++) {
      const a = Math.floor(rnd() * 2 ** 32);
      const k = rtpStreamHash(0x1234, 40000, a | 0, 0, 0, 0);
      const prev = seen.get(k);
      if (prev !== undefined && prev !== a) pair = [prev, a];
      else seen.set(k, a);
    }
    if (pair === undefined) throw new Error('no collision found');
    const ip = (n: number): string => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    const h = new Harness();
    const flows = [{ ...A, src: ip(pair[0]) }, { ...A, src: ip(pair[1]) }];
    for (let i = 0; i < 30; i++) {
      for (const k of [0, 1]) {
        if (k === stopIdx && i >= 25) continue;
        h.send(flows[k]!, rtp({ seq: 500 * k + i, ts: i * 160, ssrc: 0x1234 }), T0 + i * 20 + k);
      }
    }
    h.t.sweep(T0 + 24 * 20 + 1 + 30_001); // closes the one that stopped early only
    expect(h.closed.map((s) => s.src.ip)).toEqual([ip(pair[stopIdx])]);
    h.send(flows[1 - stopIdx]!, rtp({ seq: 500 * (1 - stopIdx) + 30, ts: 30 * 160, ssrc: 0x1234 }), T0 + 600);
    h.t.flush();
    expect(h.closed.map((s) => [s.src.ip, s.packets, s.lost])).toEqual([[ip(pair[stopIdx]), 25, 0], [ip(pair[1 - stopIdx]), 31, 0]]);
  });
});

describe('the stream table', () => {
  it('keeps thousands of streams apart through growth, removal and slot reuse', () => {
    const rnd = seededRandom(1889);
    const h = new Harness();
    interface S { flow: Flow; ssrc: number; seq0: number; sent: number }
    const make = (i: number): S => ({
      flow: { src: `10.0.${i % 7}.${1 + (i % 50)}`, dst: '10.9.9.9', sport: 10000 + (i % 100) * 2, dport: 20000 },
      ssrc: Math.floor(rnd() * 2 ** 32), seq0: Math.floor(rnd() * 65536), sent: 0,
    });
    const send = (s: S, t: number): void => {
      h.send(s.flow, rtp({ seq: s.seq0 + s.sent, ts: s.sent * 160, ssrc: s.ssrc, pt: 0 }), t);
      s.sent++;
    };
    const first = Array.from({ length: 5000 }, (_, i) => make(i));
    for (let k = 0; k < 22; k++) for (const s of first) send(s, T0 + k * 20);
    // Even streams go on; odd ones fall idle and are swept (5,000 → 2,500 rows, table entries shifted back).
    for (let k = 0; k < 5; k++) first.forEach((s, i) => i % 2 === 0 && send(s, T0 + 20_000 + k * 20));
    h.t.sweep(T0 + 31_000);
    expect(h.closed).toHaveLength(2500);
    expect(h.t.size).toBe(2500);
    // New streams take the freed slots while the old ones keep going.
    const second = Array.from({ length: 2500 }, (_, i) => make(i + 7));
    for (let k = 0; k < 22; k++) {
      for (const s of second) send(s, T0 + 32_000 + k * 20);
      first.forEach((s, i) => i % 2 === 0 && send(s, T0 + 32_000 + k * 20 + 1));
    }
    h.t.flush();
    expect(h.closed).toHaveLength(7500);
    const bySsrc = new Map(h.closed.map((c) => [c.ssrc, c]));
    for (const s of [...first, ...second]) {
      const c = bySsrc.get(s.ssrc >>> 0);
      expect(c?.packets).toBe(s.sent);
      expect(c?.lost).toBe(0);
      expect(c?.src).toEqual({ ip: s.flow.src, port: s.flow.sport });
    }
    expect(h.t.stats).toMatchObject({ streams: 7500, open: 0, rejected: 0, droppedAtCap: 0 });
  });
});

describe('payload length (RFC 3550 §5.1, §5.3.1)', () => {
  const cases: Array<[string, Omit<RtpHeader, 'seq' | 'ts' | 'ssrc'>, number]> = [
    ['plain header', { payload: 160 }, 160],
    ['two CSRCs', { payload: 160, csrcs: 2 }, 160],
    ['header extension of 3 words', { payload: 160, extWords: 3 }, 160],
    ['padding of 4 (count in the last byte)', { payload: 160, pad: 4 }, 160],
    ['CSRC, extension and padding together', { payload: 33, csrcs: 1, extWords: 1, pad: 7 }, 33],
    // Bad padding makes a stream look less like RTP (heuristic), so this one is announced by SDP.
    ['insane padding count (larger than the payload): not subtracted', { payload: 10, pad: 1, padByte: 200 }, 11],
  ];
  it.each(cases)('%s', (_name, hdr, want) => {
    const h = new Harness();
    h.t.expect({ ip: '192.168.1.20', port: 30000, callId: 'c', payloads: [], ts: T0 });
    for (let i = 0; i < 20; i++) h.send(A, rtp({ ...hdr, seq: i, ts: i * 160, ssrc: 3 }), T0 + i * 20);
    expect(h.one().payloadBytes).toBe(20 * want);
  });

  it('a stream whose padding is never sane is not RTP-like without SDP', () => {
    const h = new Harness();
    for (let i = 0; i < 40; i++) h.send(A, rtp({ payload: 10, pad: 1, padByte: 200, seq: i, ts: i * 160, ssrc: 3 }), T0 + i * 20);
    h.t.flush();
    expect(h.closed).toEqual([]);
    expect(h.t.stats.rejected).toBe(1);
  });
});

describe('IPv6', () => {
  it('tracks IPv6 sources separately from IPv4 and matches an IPv6 SDP address', () => {
    const h = new Harness();
    const src = v6('fd000000000000000000000000000010');
    const dst = v6('fd000000000000000000000000000020');
    h.t.expect({ ip: 'fd00::20', port: 30000, callId: 'v6call', payloads: [{ pt: 8, codec: 'PCMA', clockRate: 8000 }], ts: T0 });
    h.stream({ src, dst, sport: 40000, dport: 30000 }, 30, { pt: 8 });
    h.stream({ src, dst, sport: 40002, dport: 30002 }, 30, { pt: 8, ssrc: 0x11223344 });
    h.stream(A, 30, { pt: 8 }); // same SSRC and port from IPv4
    h.t.flush();
    const rows = h.closed.map((s) => [s.src.ip, s.src.port, s.dst.ip, s.foundBy, s.callId ?? '', s.packets]);
    expect(rows).toEqual([
      ['fd00::10', 40000, 'fd00::20', 'sdp', 'v6call', 30],
      ['fd00::10', 40002, 'fd00::20', 'heuristic', '', 30],
      ['192.168.1.10', 40000, '192.168.1.20', 'heuristic', '', 30],
    ]);
  });
});

describe('a real capture: sipp G.711 calls (fixtures/negative-pbx-trunk.pcap) against tshark', () => {
  const file = join(ROOT, 'fixtures', 'negative-pbx-trunk.pcap');
  const haveTshark = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;

  it.skipIf(!haveTshark)('finds the same streams with the same packet counts as tshark -z rtp,streams', async () => {
    const closed: RtpStreamStats[] = [];
    const t = new RtpTracker({ onStreamClosed: (s) => closed.push(s) });
    // A minimal Ethernet / IPv4 / UDP walk, as the pipeline does it.
    const r = await readCaptureFile(file, (f) => {
      const b = f.data;
      if (f.caplen < 42 || b.readUInt16BE(12) !== 0x0800) return;
      const ip = 14;
      const ihl = (b[ip]! & 15) * 4;
      if (b[ip + 9] !== 17) return;
      const u = ip + ihl;
      const ulen = b.readUInt16BE(u + 4);
      const pOff = u + 8;
      const pEnd = Math.min(u + ulen, f.caplen);
      if ((b[pOff]! & 0xc0) !== 0x80 || pEnd - pOff < 12) return;
      t.packet(b, pOff, pEnd, 4, b, ip + 12, ip + 16, b.readUInt16BE(u), b.readUInt16BE(u + 2), f.ts, 0, f.number);
    });
    expect(r.status).toBe('ok');
    t.flush();

    const out = spawnSync('tshark', ['-r', file, '-q', '-z', 'rtp,streams'], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    // "start end srcIP sport dstIP dport 0xSSRC payload pkts lost (pct) ..."
    const rows = [...out.stdout.matchAll(/^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(\S+)\s+(\d+)\s+(-?\d+)/gm)]
      .map((m) => ({ key: `${m[1]}:${m[2]}>${m[3]}:${m[4]}/${Number(m[5])}`, payload: m[6]!, packets: Number(m[7]), lost: Number(m[8]) }));
    expect(rows.length).toBeGreaterThan(0);
    const ours = closed.map((s) => ({ key: `${s.src.ip}:${s.src.port}>${s.dst.ip}:${s.dst.port}/${s.ssrc}`, codec: s.codec, packets: s.packets, lost: s.lost }));
    const byKey = (a: { key: string }, b: { key: string }): number => a.key.localeCompare(b.key);
    expect(ours.map(({ key, packets, lost }) => ({ key, packets, lost })).sort(byKey))
      .toEqual(rows.map(({ key, packets, lost }) => ({ key, packets, lost })).sort(byKey));
    const tsharkName: Record<string, string> = { g711A: 'PCMA', g711U: 'PCMU' };
    for (const o of ours) expect(o.codec).toBe(tsharkName[rows.find((x) => x.key === o.key)!.payload]);
    for (const s of closed) {
      expect(s.ptimeMs).toBe(20);
      expect(s.foundBy).toBe('heuristic');
    }
  });
});
