/**
 * NTP size analyzer. Real vectors: UDP payloads of NiceLabs startup.pcap
 * (/work/shared/external/nicelabs-goip, `tshark -T fields -e frame.number -e udp.payload`), written
 * as hex with runs of zero bytes given as counts. A booting GoIP sends 48-byte queries to
 * pool.ntp.org, 64-byte ones to www.gontp.com and a 1072-byte one to gontp.org (goip-protocols.md §1.2).
 */
import { describe, expect, it } from 'vitest';
import { analyzeNtp } from '../../src/protocols/ntp.js';
import type { AnalyzerResult, Endpoint, NtpObservation, PacketContext } from '../../src/protocols/types.js';

/** Hex strings and runs of zero bytes (numbers), concatenated. */
function bytes(...parts: Array<string | number>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p) : Buffer.from(p, 'hex'))));
}

function ctx(src: Endpoint, dst: Endpoint, frame: number): PacketContext {
  return { src, dst, transport: 'udp', ts: 1_586_664_930_000, ref: { file: 0, frames: [frame] } };
}

function only(result: AnalyzerResult | null): NtpObservation {
  expect(result?.malformed).toBeUndefined();
  expect(result?.observations).toHaveLength(1);
  return result!.observations[0] as NtpObservation;
}

const goip = (port: number): Endpoint => ({ ip: '192.168.1.31', port, mac: '38:3f:10:05:d7:9d' });
const server = (ip: string): Endpoint => ({ ip, port: 123 });

describe('NTP of a booting GoIP (NiceLabs startup.pcap)', () => {
  it.each([
    {
      name: 'a 48-byte query to pool.ntp.org is standard', frame: 11, src: goip(3900), dst: server('94.130.49.186'),
      payload: bytes('1b', 47), length: 48, standard: true, version: 3, mode: 3,
    },
    {
      name: 'the 48-byte answer from pool.ntp.org is standard and about the client', frame: 14, src: server('94.130.49.186'), dst: goip(3900),
      payload: bytes('1c0300e8000003d10000007bc30d1705e23c2286c471e9080000000000000000e23c251e7ef569d7e23c251e7ef610b0'),
      length: 48, standard: true, version: 3, mode: 4,
    },
    {
      name: 'a 64-byte query to www.gontp.com is not standard', frame: 19, src: goip(39677), dst: server('45.77.211.127'),
      payload: bytes('1b', 63), length: 64, standard: false, version: 3, mode: 3,
    },
    {
      name: 'the 64-byte 0xdc answer from gontp.org is not standard', frame: 27, src: server('47.75.212.68'), dst: goip(42764),
      payload: bytes('dc040afa5e91a69d5e91a69d', 36, '87808385828b849e849f8e8d9f9e848b'), length: 64, standard: false, version: 3, mode: 4,
    },
    {
      name: 'the 1072-byte datagram to gontp.org is not standard', frame: 28, src: goip(42764), dst: server('47.75.212.68'),
      payload: bytes(
        '1b', 48,
        '044f7c6eb522a8399c0d4ac6e6e566138fbdedea1d8633a7eb677fe869550bdb6443081f7e9553216083bfccb477c5028cb027b11fb16b690dd3918d' +
        '5e009c22b7fa56f6624883894c16b19ec09c0ce72e283c58abf24a2ba83989f4cebdeeb18036fddc28c76bff190375f1d5b22bc465',
        910,
      ),
      length: 1072, standard: false, version: 3, mode: 3,
    },
  ])('$name (frame $frame)', ({ frame, src, dst, payload, length, standard, version, mode }) => {
    expect(payload.length).toBe(length);
    const obs = only(analyzeNtp(payload, ctx(src, dst, frame)));
    expect(obs).toMatchObject({ kind: 'ntp', length, standard, version, mode });
    // The GoIP (the side not on port 123) is the device whichever way the datagram goes.
    expect(obs.device).toEqual(src.port === 123 ? dst : src);
    expect(obs.peer).toEqual(src.port === 123 ? src : dst);
    expect(obs.ref).toEqual({ file: 0, frames: [frame] });
  });
});

describe('NTP sizes and sides (synthetic, RFC 5905 §7.3)', () => {
  it.each([
    { length: 68, standard: true, why: 'header + key id + MD5 digest' },
    { length: 72, standard: true, why: 'header + key id + SHA-1 digest' },
    { length: 47, standard: false, why: 'shorter than the header' },
    { length: 52, standard: false, why: 'header + a lone key id (crypto-NAK is not expected here)' },
    { length: 0, standard: false, why: 'empty' },
  ])('says $length bytes is standard: $standard ($why)', ({ length, standard }) => {
    const payload = Buffer.alloc(length);
    if (length > 0) payload[0] = 0x23; // LI 0, VN 4, mode 3
    const obs = only(analyzeNtp(payload, ctx(goip(40000), server('192.0.2.1'), 1)));
    expect(obs).toMatchObject({ length, standard });
  });

  it('leaves version and mode out of an empty datagram', () => {
    const obs = only(analyzeNtp(Buffer.alloc(0), ctx(goip(40000), server('192.0.2.1'), 1)));
    expect(obs).not.toHaveProperty('version');
    expect(obs).not.toHaveProperty('mode');
  });

  it('takes the sender as the device when both sides use port 123', () => {
    const src = { ip: '192.168.1.31', port: 123 };
    const dst = server('192.0.2.1');
    const obs = only(analyzeNtp(bytes('1b', 47), ctx(src, dst, 1)));
    expect(obs.device).toEqual(src);
    expect(obs.peer).toEqual(dst);
  });
});
