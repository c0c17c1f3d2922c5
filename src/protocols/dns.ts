/**
 * DNS queries (RFC 1035 §4.1), UDP 53 and mDNS 5353. At boot a GoIP asks for `pool.ntp.org`,
 * `www.gontp.com` and `gontp.org`, each in parallel to the LAN resolver, 114.114.114.114 and
 * 8.8.8.8, reusing one transaction id (goip-protocols.md §1.2, NiceLabs startup.pcap frames 7-23).
 * So only the questions of queries are read; responses give nothing the detector needs.
 *
 *   0    2      4        6        8        10       12
 *   id   flags  qdcount  ancount  nscount  arcount  question: name, qtype(2), qclass(2) ...
 *
 * Names are returned as sent, case kept (resolvers may randomise it, draft-vixie-dnsext-dns0x20),
 * so the detector should compare them case-insensitively.
 */
import type { AnalyzerResult, DnsQueryObservation, PacketContext } from './types.js';

const PROTOCOL = 'dns';
const HEADER = 12;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire. */
const MAX_NAME_OCTETS = 255;
/** A legitimate name needs far fewer jumps; the cap stops pointer loops whatever their shape. */
const MAX_POINTERS = 32;

function malformed(reason: string, ctx: PacketContext): AnalyzerResult {
  return { observations: [], malformed: [{ protocol: PROTOCOL, reason, ref: ctx.ref }] };
}

interface NameRead {
  name: string;
  /** Offset just after the name where it was read (not where a pointer led). */
  next: number;
}

/**
 * Reads a possibly compressed name (RFC 1035 §4.1.4). Every pointer must go strictly backwards
 * from the label that holds it and the number of jumps is capped, so a crafted loop ends; every
 * read is bounds-checked. Returns a reason string when the name cannot be read.
 */
function readName(msg: Buffer, start: number): NameRead | string {
  const labels: string[] = [];
  let off = start;
  let next = -1;
  let octets = 0;
  let jumps = 0;
  for (;;) {
    if (off >= msg.length) return 'name runs past the end';
    const len = msg[off]!;
    const type = len & 0xc0;
    if (type === 0xc0) {
      if (off + 1 >= msg.length) return 'name pointer truncated';
      const target = ((len & 0x3f) << 8) | msg[off + 1]!;
      if (target >= off) return 'name pointer does not point backwards';
      if (++jumps > MAX_POINTERS) return 'too many name pointers';
      if (next < 0) next = off + 2;
      off = target;
      continue;
    }
    // 0x40 and 0x80 are the extended and reserved label types (RFC 6891 §5): not in a question.
    if (type !== 0) return 'reserved label type';
    if (len === 0) {
      if (next < 0) next = off + 1;
      break;
    }
    octets += len + 1;
    if (octets + 1 > MAX_NAME_OCTETS) return 'name longer than 255 octets';
    if (off + 1 + len > msg.length) return 'label runs past the end';
    labels.push(msg.toString('utf8', off + 1, off + 1 + len));
    off += 1 + len;
  }
  // The root name (a single zero octet) is written "." as dig does.
  return { name: labels.length === 0 ? '.' : labels.join('.'), next };
}

export function analyzeDns(payload: Buffer, ctx: PacketContext): AnalyzerResult | null {
  if (payload.length < HEADER) return malformed('shorter than a DNS header', ctx);
  const txid = payload.readUInt16BE(0);
  // QR bit: responses are not read (see the file header).
  if ((payload[2]! & 0x80) !== 0) return { observations: [] };
  const qdcount = payload.readUInt16BE(4);
  if (qdcount === 0) return { observations: [] };

  const names: string[] = [];
  let off = HEADER;
  // Each question consumes at least 5 bytes, so a lying qdcount stops at the end of the datagram.
  for (let i = 0; i < qdcount; i++) {
    const read = readName(payload, off);
    if (typeof read === 'string') return malformed(read, ctx);
    if (read.next + 4 > payload.length) return malformed('question type/class truncated', ctx);
    names.push(read.name);
    off = read.next + 4;
  }

  const obs: DnsQueryObservation = {
    kind: 'dns-query', device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref, txid, names, resolver: ctx.dst.ip,
  };
  return { observations: [obs] };
}
