/**
 * IPv4 fragment reassembly. Fragments are synthetic: one datagram payload cut at 8-byte-aligned
 * offsets as RFC 791 §3.2 prescribes (every fragment but the last a multiple of 8 bytes).
 */
import { describe, expect, it } from 'vitest';
import { Ipv4Reassembler, type Ipv4ReassemblyOptions } from '../../src/capture/ipv4-reassembly.js';

const SRC = 0xc0a80114; // 192.168.1.20
const DST = 0x0a000005; // 10.0.0.5
const UDP = 17;

/** A recognisable payload: byte i is i mod 251 (a prime, so no 8-byte pattern repeats). */
function datagram(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}

interface Frag { offset: number; end: number; mf: boolean; frame: number; ts?: number; id?: number }

function feed(r: Ipv4Reassembler, whole: Buffer, frags: Frag[]) {
  const results = [];
  for (const f of frags) {
    // A fresh view each time, overwritten after the call as the capture layer does.
    const view = Buffer.from(whole.subarray(f.offset, f.end));
    results.push(r.push(SRC, DST, f.id ?? 0x1234, UDP, f.offset, f.mf, view, f.frame, f.ts ?? 0));
    view.fill(0xee);
  }
  return results;
}

function make(opts?: Ipv4ReassemblyOptions) {
  return new Ipv4Reassembler(opts);
}

describe('Ipv4Reassembler', () => {
  it('returns a datagram that is not fragmented as it is', () => {
    const r = make();
    const p = Buffer.from('whole');
    expect(r.push(SRC, DST, 1, UDP, 0, false, p, 7, 0)).toEqual({ payload: p, frames: [7] });
    expect(r.stats.fragments).toBe(0);
  });

  it('reassembles fragments in order and lists their frames', () => {
    const r = make();
    const whole = datagram(3000);
    const out = feed(r, whole, [
      { offset: 0, end: 1480, mf: true, frame: 10 },
      { offset: 1480, end: 2960, mf: true, frame: 11 },
      { offset: 2960, end: 3000, mf: false, frame: 12 },
    ]);
    expect(out.slice(0, 2)).toEqual([null, null]);
    expect(out[2]!.payload.equals(whole)).toBe(true);
    expect(out[2]!.frames).toEqual([10, 11, 12]);
    expect(r.stats).toMatchObject({ fragments: 3, reassembled: 1 });
    expect(r.size).toBe(0);
  });

  it('reassembles fragments out of order, frames still ascending', () => {
    const r = make();
    const whole = datagram(3000);
    const out = feed(r, whole, [
      { offset: 2960, end: 3000, mf: false, frame: 21 },
      { offset: 0, end: 1480, mf: true, frame: 23 },
      { offset: 1480, end: 2960, mf: true, frame: 22 },
    ]);
    expect(out[2]!.payload.equals(whole)).toBe(true);
    expect(out[2]!.frames).toEqual([21, 22, 23]);
  });

  it('ignores a duplicate fragment and leaves its frame out', () => {
    const r = make();
    const whole = datagram(1600);
    const out = feed(r, whole, [
      { offset: 0, end: 800, mf: true, frame: 1 },
      { offset: 0, end: 800, mf: true, frame: 2 },
      { offset: 800, end: 1600, mf: false, frame: 3 },
    ]);
    expect(out[2]!.payload.equals(whole)).toBe(true);
    expect(out[2]!.frames).toEqual([1, 3]);
    expect(r.stats).toMatchObject({ overlapping: 1, duplicates: 1 });
  });

  it('keeps the first bytes on overlap and counts the overlapping fragment', () => {
    const r = make();
    const whole = datagram(64);
    const forged = Buffer.alloc(32, 0x41); // tries to rewrite bytes 16..47
    expect(r.push(SRC, DST, 9, UDP, 0, true, whole.subarray(0, 24), 1, 0)).toBeNull();
    expect(r.push(SRC, DST, 9, UDP, 16, true, forged, 2, 0)).toBeNull(); // only 24..47 are new
    const done = r.push(SRC, DST, 9, UDP, 40, false, whole.subarray(40, 64), 3, 0);
    const expected = Buffer.concat([whole.subarray(0, 24), forged.subarray(8, 32), whole.subarray(48, 64)]);
    expect(done!.payload.equals(expected)).toBe(true);
    expect(done!.frames).toEqual([1, 2, 3]);
    expect(r.stats).toMatchObject({ overlapping: 2, duplicates: 0 });
  });

  it('fills several holes from one fragment that spans them', () => {
    const r = make();
    const whole = datagram(48);
    feed(r, whole, [
      { offset: 8, end: 16, mf: true, frame: 1 },
      { offset: 32, end: 40, mf: true, frame: 2 },
      { offset: 40, end: 48, mf: false, frame: 3 },
    ]);
    const out = feed(r, whole, [{ offset: 0, end: 40, mf: true, frame: 4 }]);
    expect(out[0]!.payload.equals(whole)).toBe(true);
    expect(out[0]!.frames).toEqual([1, 2, 3, 4]);
  });

  it('keeps datagrams apart by (src, dst, id, protocol)', () => {
    const r = make();
    const a = datagram(16);
    const b = Buffer.alloc(16, 0xbb);
    expect(r.push(SRC, DST, 1, UDP, 0, true, a.subarray(0, 8), 1, 0)).toBeNull();
    expect(r.push(SRC, DST, 1, 6, 0, true, b.subarray(0, 8), 2, 0)).toBeNull();
    expect(r.push(SRC, DST, 2, UDP, 8, false, b.subarray(8), 3, 0)).toBeNull();
    expect(r.push(SRC, DST, 1, UDP, 8, false, a.subarray(8), 4, 0)!.payload.equals(a)).toBe(true);
    expect(r.size).toBe(2);
  });

  it('drops a partial datagram whose fragments arrive after the timeout', () => {
    const r = make({ timeoutMs: 30_000 });
    const whole = datagram(16);
    const out = feed(r, whole, [
      { offset: 0, end: 8, mf: true, frame: 1, ts: 0 },
      { offset: 8, end: 16, mf: false, frame: 2, ts: 30_001 },
    ]);
    expect(out).toEqual([null, null]);
    expect(r.stats.timedOut).toBe(1);
    expect(r.size).toBe(1); // the late fragment starts a partial of its own
  });

  it('expires old partials while other traffic is pushed, without timers', () => {
    const r = make({ timeoutMs: 1000 });
    for (let id = 0; id < 5; id++) r.push(SRC, DST, id, UDP, 0, true, Buffer.alloc(8), id, id);
    expect(r.size).toBe(5);
    r.push(SRC, DST, 99, UDP, 0, true, Buffer.alloc(8), 99, 1003);
    expect(r.stats.timedOut).toBe(3); // ids 0..2 are older than 1 s
    expect(r.size).toBe(3);
  });

  it('drops a datagram reaching past maxDatagramBytes and swallows its other fragments', () => {
    const r = make();
    // "Ping of death": the last fragment ends at 65528 + 16 > 65535.
    expect(r.push(SRC, DST, 7, 1, 0, true, Buffer.alloc(1480), 1, 0)).toBeNull();
    expect(r.push(SRC, DST, 7, 1, 65528, false, Buffer.alloc(16), 2, 0)).toBeNull();
    expect(r.push(SRC, DST, 7, 1, 1480, true, Buffer.alloc(1480), 3, 0)).toBeNull();
    expect(r.stats).toMatchObject({ oversize: 1, reassembled: 0 });
  });

  it('honours a smaller maxDatagramBytes', () => {
    const r = make({ maxDatagramBytes: 1000 });
    expect(r.push(SRC, DST, 7, UDP, 992, false, Buffer.alloc(16), 1, 0)).toBeNull();
    expect(r.stats.oversize).toBe(1);
  });

  it('drops a datagram whose fragments disagree on its end', () => {
    const r0 = make();
    expect(r0.push(SRC, DST, 4, UDP, 24, false, Buffer.alloc(8), 1, 0)).toBeNull(); // end 32
    expect(r0.push(SRC, DST, 4, UDP, 8, false, Buffer.alloc(8), 2, 0)).toBeNull(); // a second end, 16
    expect(r0.stats.malformed).toBe(1);
    const r = make();
    expect(r.push(SRC, DST, 3, UDP, 0, true, Buffer.alloc(8), 1, 0)).toBeNull();
    expect(r.push(SRC, DST, 3, UDP, 16, false, Buffer.alloc(8), 2, 0)).toBeNull(); // end 24
    expect(r.push(SRC, DST, 3, UDP, 8, true, Buffer.alloc(24), 3, 0)).toBeNull(); // reaches 32
    expect(r.push(SRC, DST, 3, UDP, 8, true, Buffer.alloc(8), 4, 0)).toBeNull(); // would complete it
    expect(r.stats).toMatchObject({ malformed: 1, reassembled: 0 });
  });

  it('evicts the oldest partial datagram beyond maxDatagrams', () => {
    const r = make({ maxDatagrams: 2 });
    for (let id = 1; id <= 3; id++) r.push(SRC, DST, id, UDP, 0, true, Buffer.alloc(8, id), id, 0);
    expect(r.stats.evicted).toBe(1);
    expect(r.size).toBe(2);
    expect(r.push(SRC, DST, 1, UDP, 8, false, Buffer.alloc(8), 4, 0)).toBeNull(); // id 1 was the oldest
    expect(r.push(SRC, DST, 3, UDP, 8, false, Buffer.alloc(8), 5, 0)!.frames).toEqual([3, 5]);
  });

  it('never holds more than maxDatagrams partials under a flood of first fragments', () => {
    const r = make({ maxDatagrams: 100 });
    let max = 0;
    const frag = Buffer.alloc(8);
    for (let i = 0; i < 100_000; i++) {
      r.push(SRC + (i >> 16), DST, i & 0xffff, UDP, 0, true, frag, i, 0);
      if (r.size > max) max = r.size;
    }
    expect(max).toBe(100);
  });

  it('evicts older partials to stay within maxBufferedBytes', () => {
    const r = make({ maxBufferedBytes: 200_000 });
    for (let id = 0; id < 10; id++) r.push(SRC, DST, id, UDP, 0, true, Buffer.alloc(60_000), id, 0);
    expect(r.stats.evicted).toBeGreaterThanOrEqual(7);
    expect(r.size).toBeLessThanOrEqual(3);
  });
});
