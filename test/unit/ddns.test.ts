/**
 * DBL vendor DDNS analyzer. Real vectors: the two UDP payloads of NiceLabs ddns.pcap
 * (/work/shared/external/nicelabs-goip, `tshark -T fields -e frame.number -e udp.payload`),
 * a GoIP at 192.168.1.30 (serial 8MCDRM18047247) and the server 202.104.186.90:39800
 * (goip-protocols.md §1.2).
 */
import { describe, expect, it } from 'vitest';
import { analyzeDdns, looksLikeDdns } from '../../src/protocols/ddns.js';
import type { AnalyzerResult, DdnsObservation, Endpoint, PacketContext } from '../../src/protocols/types.js';

const GOIP: Endpoint = { ip: '192.168.1.30', port: 56000, mac: '38:3f:10:05:64:80' };
const DDNS_SERVER: Endpoint = { ip: '202.104.186.90', port: 39800 };

// ddns.pcap frame 1: magic, flag 01, "8MCDRM18047247".
const REQUEST = '8670141301384d4344524d3138303437323437';
// ddns.pcap frame 2: magic, flag 00, "218.81.37.203", TAB, "www.8MCDRM18047247.com".
const REPLY = '86701413003231382e38312e33372e323033097777772e384d4344524d31383034373234372e636f6d';

function ctx(src: Endpoint, dst: Endpoint, frame: number): PacketContext {
  return { src, dst, transport: 'udp', ts: 1_586_664_920_000, ref: { file: 1, frames: [frame] } };
}

function only(result: AnalyzerResult | null): DdnsObservation {
  expect(result?.malformed).toBeUndefined();
  expect(result?.observations).toHaveLength(1);
  return result!.observations[0] as DdnsObservation;
}

describe('DDNS exchange of a GoIP (NiceLabs ddns.pcap)', () => {
  it('reads the serial number of a request and says it is about the sender (frame 1)', () => {
    const obs = only(analyzeDdns(Buffer.from(REQUEST, 'hex'), ctx(GOIP, DDNS_SERVER, 1)));
    expect(obs).toMatchObject({ kind: 'ddns', flag: 'request', serial: '8MCDRM18047247' });
    expect(obs.device).toEqual(GOIP);
    expect(obs.peer).toEqual(DDNS_SERVER);
    expect(obs.ref).toEqual({ file: 1, frames: [1] });
  });

  it('reads the public IP and domain of a reply and says it is about the receiving gateway (frame 2)', () => {
    const obs = only(analyzeDdns(Buffer.from(REPLY, 'hex'), ctx(DDNS_SERVER, GOIP, 2)));
    expect(obs).toMatchObject({ kind: 'ddns', flag: 'reply', publicIp: '218.81.37.203', domain: 'www.8MCDRM18047247.com' });
    expect(obs).not.toHaveProperty('serial');
    expect(obs.device).toEqual(GOIP);
    expect(obs.peer).toEqual(DDNS_SERVER);
  });

  it('recognises both capture frames by their magic', () => {
    expect(looksLikeDdns(Buffer.from(REQUEST, 'hex'))).toBe(true);
    expect(looksLikeDdns(Buffer.from(REPLY, 'hex'))).toBe(true);
  });
});

describe('DDNS variants (synthetic, from the §1.2 layout)', () => {
  it('tolerates a trailing NUL and newline after the serial', () => {
    const obs = only(analyzeDdns(Buffer.from(`${REQUEST}0a00`, 'hex'), ctx(GOIP, DDNS_SERVER, 1)));
    expect(obs.serial).toBe('8MCDRM18047247');
  });

  it('reads a reply that carries only the public IP', () => {
    const obs = only(analyzeDdns(Buffer.from('86701413003231382e38312e33372e323033', 'hex'), ctx(DDNS_SERVER, GOIP, 2)));
    expect(obs.publicIp).toBe('218.81.37.203');
    expect(obs).not.toHaveProperty('domain');
  });

  it('reports an unknown flag as flag unknown about the sender', () => {
    const obs = only(analyzeDdns(Buffer.from('8670141302414243', 'hex'), ctx(GOIP, DDNS_SERVER, 1)));
    expect(obs).toEqual({ kind: 'ddns', device: GOIP, peer: DDNS_SERVER, ts: 1_586_664_920_000, ref: { file: 1, frames: [1] }, flag: 'unknown' });
  });
});

describe('not DDNS and malformed DDNS', () => {
  it.each(['', '867014', '8670141201', '0070141301', '5245434549564500'])('does not recognise %s', (hex) => {
    expect(looksLikeDdns(Buffer.from(hex, 'hex'))).toBe(false);
    expect(analyzeDdns(Buffer.from(hex, 'hex'), ctx(GOIP, DDNS_SERVER, 1))).toBeNull();
  });

  it.each([
    { name: 'magic without a flag', hex: '86701413', reason: 'no flag byte after the magic' },
    { name: 'a request without a serial', hex: '8670141301', reason: 'request serial missing or not printable' },
    { name: 'a request with a binary serial', hex: '867014130138ff10', reason: 'request serial missing or not printable' },
    { name: 'a reply with a bad IP', hex: '86701413003939392e312e312e3109777777', reason: 'reply public IP is not an IPv4 address' },
    { name: 'a reply without an IP', hex: '867014130009777777', reason: 'reply public IP is not an IPv4 address' },
    { name: 'a reply with an empty domain', hex: '86701413003231382e38312e33372e32303309', reason: 'reply domain missing or not printable' },
  ])('reports $name', ({ hex, reason }) => {
    const result = analyzeDdns(Buffer.from(hex, 'hex'), ctx(GOIP, DDNS_SERVER, 1));
    expect(result).toEqual({ observations: [], malformed: [{ protocol: 'ddns', reason, ref: { file: 1, frames: [1] } }] });
  });

  it('never throws on truncations of the capture frames', () => {
    for (const hex of [REQUEST, REPLY]) {
      const payload = Buffer.from(hex, 'hex');
      for (let len = 0; len <= payload.length; len++) analyzeDdns(payload.subarray(0, len), ctx(GOIP, DDNS_SERVER, 1));
    }
    // Cut inside the address ("218.81."): an address that is not one is malformed, not a partial fact.
    expect(analyzeDdns(Buffer.from(REPLY, 'hex').subarray(0, 12), ctx(DDNS_SERVER, GOIP, 2))?.malformed?.[0]?.reason)
      .toBe('reply public IP is not an IPv4 address');
  });
});
