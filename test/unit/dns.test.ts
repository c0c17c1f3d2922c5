/**
 * DNS query analyzer. Real vectors: UDP payloads of NiceLabs startup.pcap
 * (/work/shared/external/nicelabs-goip, `tshark -T fields -e frame.number -e udp.payload`), where a
 * booting GoIP asks three resolvers for the same names with one transaction id, 0x67c6
 * (goip-protocols.md §1.2). Synthetic vectors exercise name compression (RFC 1035 §4.1.4).
 */
import { describe, expect, it } from 'vitest';
import { analyzeDns } from '../../src/protocols/dns.js';
import type { AnalyzerResult, DnsQueryObservation, Endpoint, PacketContext } from '../../src/protocols/types.js';

const GOIP: Endpoint = { ip: '192.168.1.31', port: 45184, mac: '38:3f:10:05:d7:9d' };

function ctx(src: Endpoint, dst: Endpoint, frame: number): PacketContext {
  return { src, dst, transport: 'udp', ts: 1_586_664_910_000, ref: { file: 0, frames: [frame] } };
}

/** Header with the given qdcount, flags 0x0100 (standard query, RD), txid 0x1234. */
const header = (qdcount: number): string => `12340100${qdcount.toString(16).padStart(4, '0')}000000000000`;

function only(result: AnalyzerResult | null): DnsQueryObservation {
  expect(result?.malformed).toBeUndefined();
  expect(result?.observations).toHaveLength(1);
  return result!.observations[0] as DnsQueryObservation;
}

describe('DNS queries of a booting GoIP (NiceLabs startup.pcap)', () => {
  it.each([
    { frame: 7, resolver: '192.168.1.1', name: 'pool.ntp.org', hex: '67c60100000100000000000004706f6f6c036e7470036f72670000010001' },
    { frame: 8, resolver: '114.114.114.114', name: 'pool.ntp.org', hex: '67c60100000100000000000004706f6f6c036e7470036f72670000010001' },
    { frame: 9, resolver: '8.8.8.8', name: 'pool.ntp.org', hex: '67c60100000100000000000004706f6f6c036e7470036f72670000010001' },
    { frame: 15, resolver: '192.168.1.1', name: 'www.gontp.com', hex: '67c6010000010000000000000377777705676f6e747003636f6d0000010001' },
    { frame: 21, resolver: '192.168.1.1', name: 'gontp.org', hex: '67c60100000100000000000005676f6e7470036f72670000010001' },
  ])('reads $name asked of $resolver with txid 0x67c6 (frame $frame)', ({ frame, resolver, name, hex }) => {
    const obs = only(analyzeDns(Buffer.from(hex, 'hex'), ctx(GOIP, { ip: resolver, port: 53 }, frame)));
    expect(obs).toMatchObject({ kind: 'dns-query', txid: 0x67c6, names: [name], resolver });
    expect(obs.device).toEqual(GOIP);
    expect(obs.ref).toEqual({ file: 0, frames: [frame] });
  });

  it('returns no observation for a response (frame 10)', () => {
    const hex = '67c68180000100040000000004706f6f6c036e7470036f72670000010001c00c000100010000001f00045e8231bac00c00010001' +
      '0000001f000454104921c00c000100010000001f000478197314c00c000100010000001f0004a29fc87b';
    expect(analyzeDns(Buffer.from(hex, 'hex'), ctx({ ip: '114.114.114.114', port: 53 }, GOIP, 10))).toEqual({ observations: [] });
  });
});

describe('DNS names (synthetic, RFC 1035 §4.1.4)', () => {

  it('follows a compression pointer in a second question', () => {
    // Q1 at offset 12: gontp.org; Q2: www + pointer to offset 12.
    const hex = `${header(2)}05676f6e7470036f72670000010001` + '03777777c00c00010001';
    expect(only(analyzeDns(Buffer.from(hex, 'hex'), ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1))).names).toEqual(['gontp.org', 'www.gontp.org']);
  });

  it('keeps the case of a name as sent', () => {
    const hex = `${header(1)}04506f4f6c036e7470036f72670000010001`;
    expect(only(analyzeDns(Buffer.from(hex, 'hex'), ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1))).names).toEqual(['PoOl.ntp.org']);
  });

  it('writes the root name as "."', () => {
    expect(only(analyzeDns(Buffer.from(`${header(1)}0000020001`, 'hex'), ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1))).names).toEqual(['.']);
  });

  it('returns no observation for a query without a question', () => {
    expect(analyzeDns(Buffer.from(header(0), 'hex'), ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1))).toEqual({ observations: [] });
  });
});

describe('malformed DNS', () => {
  it.each([
    { name: 'a short header', hex: '67c601000001', reason: 'shorter than a DNS header' },
    { name: 'a pointer to itself', hex: `${header(1)}c00c00010001`, reason: 'name pointer does not point backwards' },
    { name: 'a forward pointer', hex: `${header(1)}c01000010001`, reason: 'name pointer does not point backwards' },
    // label "a" at 12, then a pointer back to 12: each pass goes backwards, together they loop.
    { name: 'a pointer loop', hex: `${header(1)}0161c00c00010001`, reason: 'too many name pointers' },
    { name: 'a truncated pointer', hex: `${header(1)}c0`, reason: 'name pointer truncated' },
    { name: 'a label past the end', hex: `${header(1)}0a676f6e7470`, reason: 'label runs past the end' },
    { name: 'a name without its terminator', hex: `${header(1)}05676f6e7470`, reason: 'name runs past the end' },
    { name: 'a reserved label type', hex: `${header(1)}4100000001`, reason: 'reserved label type' },
    { name: 'a missing type and class', hex: `${header(1)}05676f6e7470000001`, reason: 'question type/class truncated' },
    { name: 'a qdcount larger than the questions', hex: `${header(3)}05676f6e74700000010001`, reason: 'name runs past the end' },
    { name: 'a name over 255 octets', hex: `${header(1)}${'3f'.concat('61'.repeat(63)).repeat(4)}0000010001`, reason: 'name longer than 255 octets' },
  ])('reports $name', ({ hex, reason }) => {
    const result = analyzeDns(Buffer.from(hex, 'hex'), ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1));
    expect(result).toEqual({ observations: [], malformed: [{ protocol: 'dns', reason, ref: { file: 0, frames: [1] } }] });
  });

  it('never throws on truncations and random bytes', () => {
    const sample = Buffer.from('67c6010000010000000000000377777705676f6e747003636f6d0000010001', 'hex');
    for (let len = 0; len <= sample.length; len++) expect(analyzeDns(sample.subarray(0, len), ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1))).not.toBeNull();
    let seed = 99;
    for (let i = 0; i < 2000; i++) {
      const payload = Buffer.alloc(12 + (i % 60));
      for (let j = 0; j < payload.length; j++) payload[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8 & 0xff;
      payload[2] = payload[2]! & 0x7f; // keep it a query so the question parser runs
      expect(analyzeDns(payload, ctx(GOIP, { ip: '8.8.8.8', port: 53 }, 1))).not.toBeNull();
    }
  });
});
