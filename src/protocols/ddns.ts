/**
 * DBL's vendor dynamic-DNS exchange, UDP to port 39800 (goip-protocols.md §1.2; NiceLabs ddns.pcap,
 * serial 8MCDRM18047247). The port is configurable (`voipddns.net:39800`, backup `dbltek.com:39800`,
 * [RE]), so the caller matches the magic, not the port.
 *
 *   request  GoIP → server   86 70 14 13 | 01 | serial (ASCII)               "8MCDRM18047247"
 *   reply    server → GoIP   86 70 14 13 | 00 | public IP | 09 | domain      "218.81.37.203\twww.8MCDRM18047247.com"
 *
 * Only these two flags are known; any other is reported as `unknown` with no fields, so a new
 * variant still shows up as DBL DDNS traffic.
 */
import type { AnalyzerResult, DdnsObservation, PacketContext } from './types.js';

const PROTOCOL = 'ddns';
const MAGIC = [0x86, 0x70, 0x14, 0x13] as const;
const FLAG_REPLY = 0x00;
const FLAG_REQUEST = 0x01;
const TAB = 0x09;

/** True when the datagram starts with the DBL DDNS magic `86 70 14 13`. */
export function looksLikeDdns(payload: Buffer): boolean {
  return payload.length >= MAGIC.length
    && payload[0] === MAGIC[0] && payload[1] === MAGIC[1] && payload[2] === MAGIC[2] && payload[3] === MAGIC[3];
}

function malformed(reason: string, ctx: PacketContext): AnalyzerResult {
  return { observations: [], malformed: [{ protocol: PROTOCOL, reason, ref: ctx.ref }] };
}

/** Printable ASCII with no spaces: what a serial number, an address or a host name is made of. */
function printableToken(b: Buffer, start: number, end: number): string | undefined {
  if (end <= start) return undefined;
  for (let i = start; i < end; i++) if (b[i]! < 0x21 || b[i]! > 0x7e) return undefined;
  return b.toString('latin1', start, end);
}

/** End of the meaningful bytes: a sender may pad with NULs or end with a newline. */
function trimmedEnd(b: Buffer): number {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x00 || b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--;
  return end;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function analyzeDdns(payload: Buffer, ctx: PacketContext): AnalyzerResult | null {
  if (!looksLikeDdns(payload)) return null;
  if (payload.length < 5) return malformed('no flag byte after the magic', ctx);
  const flag = payload[4]!;
  const end = trimmedEnd(payload);

  if (flag === FLAG_REQUEST) {
    // The gateway announces itself by serial number: device = sender.
    const serial = printableToken(payload, 5, end);
    if (serial === undefined) return malformed('request serial missing or not printable', ctx);
    const obs: DdnsObservation = {
      kind: 'ddns', device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref, flag: 'request', serial,
    };
    return { observations: [obs] };
  }

  if (flag === FLAG_REPLY) {
    // The server tells the gateway its public address and DDNS name: device = receiver.
    const tab = payload.indexOf(TAB, 5);
    const ipEnd = tab >= 0 && tab < end ? tab : end;
    const publicIp = printableToken(payload, 5, ipEnd);
    if (publicIp === undefined || !IPV4.test(publicIp)) return malformed('reply public IP is not an IPv4 address', ctx);
    const obs: DdnsObservation = {
      kind: 'ddns', device: ctx.dst, peer: ctx.src, ts: ctx.ts, ref: ctx.ref, flag: 'reply', publicIp,
    };
    if (ipEnd < end) {
      const domain = printableToken(payload, ipEnd + 1, end);
      if (domain === undefined) return malformed('reply domain missing or not printable', ctx);
      obs.domain = domain;
    }
    return { observations: [obs] };
  }

  const obs: DdnsObservation = { kind: 'ddns', device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref, flag: 'unknown' };
  return { observations: [obs] };
}
