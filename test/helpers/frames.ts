/**
 * Builders for link/network/transport headers, for unit tests of the decoder. Every layout follows
 * the named specification; real captures of the same encapsulations are in fixtures/ (made with
 * tcpdump/tshark) and are replayed by the end-to-end tests.
 */
import type { Frame } from '../../src/capture/file-source.js';

export function mac(s: string): Buffer {
  return Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
}

export function ipv4Bytes(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

function checksumless(b: Buffer): Buffer {
  return b; // the decoder does not verify checksums (captures often carry offloaded, unset ones)
}

/** UDP header (RFC 768) + payload. */
export function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** IPv4 header (RFC 791) with optional fragmentation fields. */
export function ipv4(src: string, dst: string, proto: number, payload: Buffer, opts: { id?: number; mf?: boolean; offset?: number; totalPayload?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(opts.id ?? 1, 4);
  h.writeUInt16BE(((opts.mf ? 1 : 0) << 13) | ((opts.offset ?? 0) / 8), 6);
  h[8] = 64;
  h[9] = proto;
  ipv4Bytes(src).copy(h, 12);
  ipv4Bytes(dst).copy(h, 16);
  return checksumless(Buffer.concat([h, payload]));
}

/** IPv6 header (RFC 8200 §3), optionally after extension headers given as [type, bytes]. */
export function ipv6(src: Buffer, dst: Buffer, next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** Ethernet II (IEEE 802.3 §3.2.6) with optional VLAN tags given as [TPID, VID]. */
export function ethernet(dst: string, src: string, ethertype: number, payload: Buffer, tags: Array<[number, number]> = []): Buffer {
  const parts = [mac(dst), mac(src)];
  for (const [tpid, vid] of tags) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE(vid, 2);
    parts.push(t);
  }
  const et = Buffer.alloc(2);
  et.writeUInt16BE(ethertype, 0);
  return Buffer.concat([...parts, et, payload]);
}

/** Linux cooked v1 (tcpdump.org LINKTYPE_LINUX_SLL): pkttype, ARPHRD, halen, addr[8], protocol. */
export function sll(src: string, protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  mac(src).copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked v2 (tcpdump.org LINKTYPE_LINUX_SLL2): protocol, reserved, ifindex, ARPHRD, pkttype, halen, addr[8]. */
export function sll2(src: string, protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(2, 4);
  h.writeUInt16BE(1, 8);
  h[10] = 0;
  h[11] = 6;
  mac(src).copy(h, 12);
  return Buffer.concat([h, payload]);
}

export function frame(dlt: number, data: Buffer, number = 1, ts = 1_700_000_000_000): Frame {
  return { number, dlt, data, caplen: data.length, origLen: data.length, ts };
}
