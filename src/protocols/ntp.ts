/**
 * NTP on UDP 123, read only for its size. A booting GoIP sends ordinary 48-byte queries to
 * pool.ntp.org but 64-byte ones to www.gontp.com and one 1072-byte datagram to gontp.org, whose
 * answer starts with 0xdc (goip-protocols.md §1.2, NiceLabs startup.pcap frames 19, 27, 28). Those
 * sizes are what sets the vendor's time service apart from NTP.
 *
 * Standard sizes (RFC 5905 §7.3): the 48-byte header, optionally followed by a MAC of a 4-byte key
 * id and a 16-byte MD5 (68) or 20-byte SHA-1 (72) digest. RFC 7822 extension fields and NTS also
 * make longer datagrams; they are reported as non-standard too, and the detector decides what that
 * means together with the destination.
 */
import type { AnalyzerResult, NtpObservation, PacketContext } from './types.js';

const NTP_PORT = 123;
const HEADER = 48;
const STANDARD_LENGTHS: ReadonlySet<number> = new Set([HEADER, HEADER + 20, HEADER + 24]);

export function analyzeNtp(payload: Buffer, ctx: PacketContext): AnalyzerResult | null {
  // The device is the client: the side not on port 123 (symmetric mode uses 123 on both sides,
  // then the sender is taken; so is the sender when neither side is on 123).
  const clientIsDst = ctx.src.port === NTP_PORT && ctx.dst.port !== NTP_PORT;
  const obs: NtpObservation = {
    kind: 'ntp',
    device: clientIsDst ? ctx.dst : ctx.src,
    peer: clientIsDst ? ctx.src : ctx.dst,
    ts: ctx.ts,
    ref: ctx.ref,
    length: payload.length,
    standard: STANDARD_LENGTHS.has(payload.length),
  };
  if (payload.length > 0) {
    // LI (2 bits) | VN (3 bits) | Mode (3 bits); 0xdc is LI 3, VN 3, mode 4 (server).
    const first = payload[0]!;
    obs.version = (first >> 3) & 0x07;
    obs.mode = first & 0x07;
  }
  return { observations: [obs] };
}
