/**
 * The capture pipeline: one frame in, observations out.
 *
 *   Frame (raw buffer) ─► link: Ethernet [802.1Q/QinQ]* | SLL | SLL2 | raw IP | NULL/LOOP
 *                        ─► ARP ─► mac sighting
 *                        ─► IPv4 (fragments ─► Ipv4Reassembler) | IPv6 (extension headers)
 *                        ─► UDP ─► RTP-like? count and stop (the hot path)
 *                        │       └► port 67/68 DHCP, 53 DNS, 123 NTP, DDNS magic, SIP, GoIP SMS-server
 *                        └► TCP ─► TcpReassembler ─► stream analyzers chosen by content (SIP, SMTP, HTTP, ...)
 *
 * The hot path works on the raw buffer with offsets: no strings, no objects, until a payload is
 * known to interest an analyzer. Most packets of a gateway capture are RTP, and those cost a few
 * integer reads.
 */
import type { AnalyzerResult, CaptureRef, Endpoint, Malformed, Observation, PacketContext } from '../protocols/types.js';
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo, TcpStreamConsumer } from './stream.js';
import type { Frame } from './file-source.js';
import { Dlt } from './file-source.js';
import { ipv4At, ipv4FromNumber, ipv6At, isLocalIpv4Number, macAt, ouiOf } from './addresses.js';
import { Ipv4Reassembler } from './ipv4-reassembly.js';
import { TcpReassembler } from './tcp-reassembly.js';
import { analyzeGoipSms, looksLikeGoipSms } from '../protocols/goip-sms.js';
import { analyzeDhcp } from '../protocols/dhcp.js';
import { analyzeDns } from '../protocols/dns.js';
import { analyzeDdns, looksLikeDdns } from '../protocols/ddns.js';
import { analyzeNtp } from '../protocols/ntp.js';
import { looksLikeSip } from '../protocols/sip/parser.js';
import { analyzeSip, sipStreamAnalyzer } from '../protocols/sip/analyzer.js';
import { smtpStreamAnalyzer } from '../protocols/smtp.js';
import { httpStreamAnalyzer } from '../protocols/http.js';
import { ejoinStreamAnalyzer } from '../protocols/ejoin.js';
import { dinstarStreamAnalyzer } from '../protocols/dinstar.js';
import { amiStreamAnalyzer } from '../protocols/ami.js';
import { telnetStreamAnalyzer } from '../protocols/telnet.js';

/** Stream analyzers in the order they are offered a new connection's first bytes. */
export const streamAnalyzers: StreamAnalyzerFactory[] = [
  sipStreamAnalyzer, smtpStreamAnalyzer, ejoinStreamAnalyzer, httpStreamAnalyzer, dinstarStreamAnalyzer, amiStreamAnalyzer, telnetStreamAnalyzer,
];

/**
 * Where RTP-looking UDP payloads go when behaviour analysis is on (src/behaviour/rtp.ts RtpTracker).
 * Called on the hot path with raw offsets: the sink must not allocate per packet.
 *
 * The pipeline writes the packet's capture time (ms), file index and frame number into
 * `clock[0]`, `clock[1]`, `clock[2]`, then calls rtp(): a capture time is a double, and a double
 * passed as an argument to a call V8 does not inline is boxed into a new heap number every time.
 * packet() takes them as arguments, for callers off the hot path.
 */
export interface RtpPacketSink {
  readonly clock: Float64Array;
  rtp(b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, sport: number, dport: number): void;
  packet(b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, sport: number, dport: number, ts: number, file: number, frame: number): void;
}

export interface PipelineStats {
  frames: number;
  bytes: number;
  ipv4: number;
  ipv6: number;
  arp: number;
  udp: number;
  tcp: number;
  rtpLike: number;
  ipv4Fragments: number;
  /** Frames whose link or network layer we do not decode (e.g. STP, LLDP, 802.11), by kind. */
  skipped: Record<string, number>;
  /** Payloads handed to each analyzer. */
  analyzed: Record<string, number>;
  /** Payloads an analyzer recognised but could not read, by "protocol: reason". */
  malformed: Record<string, number>;
  observations: number;
}

/** Big-endian reads by byte index: cheaper than Buffer#readUInt16BE's checks on the per-packet path. */
function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** A MAC that names one device: not all-zero (loopback captures) and not multicast/broadcast. */
function isDeviceMac(b: Buffer, o: number): boolean {
  if ((b[o]! & 1) === 1) return false;
  return (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]!) !== 0;
}

const ETH_8021Q = 0x8100;
const ETH_8021AD = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_ARP = 0x0806;

export class CapturePipeline {
  readonly stats: PipelineStats = {
    frames: 0, bytes: 0, ipv4: 0, ipv6: 0, arp: 0, udp: 0, tcp: 0, rtpLike: 0, ipv4Fragments: 0,
    skipped: {}, analyzed: {}, malformed: {}, observations: 0,
  };
  private fileIndex = 0;
  private fragments = new Ipv4Reassembler();
  private tcp: TcpReassembler;
  /** IPv4 (as uint32) → the MAC last seen sending from it; bounded. Only local addresses are bound. */
  private macByIp = new Map<number, number>();
  private static readonly maxMacBindings = 65_536;
  // Per-frame link-layer state, set by frame() and read by the layers below it.
  private curFrame = 0;
  private curTs = 0;
  private srcMacOff = -1;
  private dstMacOff = -1;
  private linkBuf: Buffer = Buffer.alloc(0);
  /** IPv4 source of the current frame, or -1 (IPv6, reassembled, none). */
  private curSrcV4 = -1;

  /** Per-stream RTP statistics (behaviour analysis); without one, RTP is only counted. */
  rtpSink: RtpPacketSink | undefined;

  constructor(
    private readonly onObservation: (o: Observation) => void,
    private readonly onMalformed: (m: Malformed) => void = () => {},
    rtpSink?: RtpPacketSink,
  ) {
    this.rtpSink = rtpSink;
    this.tcp = this.newTcpReassembler();
  }

  private newTcpReassembler(): TcpReassembler {
    return new TcpReassembler({ open: (conn) => this.openTcp(conn) });
  }

  /** Start a new input file. TCP and fragment state do not carry across files: refs name one file. */
  beginFile(fileIndex: number): void {
    this.fileIndex = fileIndex;
  }

  /** End of a file: deliver what the reassemblers still hold, then start clean. */
  endFile(): void {
    this.tcp.flush();
    this.tcp = this.newTcpReassembler();
    this.fragments = new Ipv4Reassembler();
  }

  frame(f: Frame): void {
    const st = this.stats;
    st.frames++;
    st.bytes += f.caplen;
    this.curFrame = f.number;
    this.curTs = f.ts;
    this.srcMacOff = -1;
    this.dstMacOff = -1;
    this.curSrcV4 = -1;
    const b = f.data;
    const len = f.caplen;
    this.linkBuf = b;
    let off = 0;
    let type = 0;
    switch (f.dlt) {
      case Dlt.Ethernet: {
        if (len < 14) return this.skip('short ethernet frame');
        this.dstMacOff = 0;
        this.srcMacOff = 6;
        type = u16(b, 12);
        off = 14;
        // 802.1Q, 802.1ad (QinQ outer) and the pre-standard 0x9100: 4 bytes each, any depth.
        while ((type === ETH_8021Q || type === ETH_8021AD || type === ETH_QINQ_OLD) && off + 4 <= len) {
          type = u16(b, off + 2);
          off += 4;
        }
        if (type <= 1500) return this.skip('802.3 / LLC frame');
        break;
      }
      case Dlt.LinuxSll: {
        // Linux cooked v1: pkttype(2) arphrd(2) halen(2) addr(8) protocol(2). The address is the sender's.
        if (len < 16) return this.skip('short SLL frame');
        if (u16(b, 4) === 6) this.srcMacOff = 6;
        type = u16(b, 14);
        off = 16;
        break;
      }
      case Dlt.LinuxSll2: {
        // Linux cooked v2: protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) halen(1) addr(8).
        if (len < 20) return this.skip('short SLL2 frame');
        if (b[11] === 6) this.srcMacOff = 12;
        type = u16(b, 0);
        off = 20;
        break;
      }
      case Dlt.Raw:
      case Dlt.Ipv4:
      case Dlt.Ipv6: {
        if (len < 1) return this.skip('empty raw IP frame');
        type = (b[0]! >> 4) === 6 ? ETH_IPV6 : ETH_IPV4;
        break;
      }
      case Dlt.Null:
      case Dlt.Loop: {
        // BSD loopback: 4-byte address family, host order for NULL, network order for LOOP.
        if (len < 4) return this.skip('short loopback frame');
        const fam = f.dlt === Dlt.Loop ? u32(b, 0) : (b.readUInt32LE(0) > 0xffff ? u32(b, 0) : b.readUInt32LE(0));
        type = fam === 2 ? ETH_IPV4 : fam === 24 || fam === 28 || fam === 30 ? ETH_IPV6 : 0;
        off = 4;
        break;
      }
      default:
        return this.skip(`link type ${f.dlt}`);
    }
    if (type === ETH_IPV4) this.ipv4(b, off, len);
    else if (type === ETH_IPV6) this.ipv6(b, off, len);
    else if (type === ETH_ARP) this.arp(b, off, len);
    else this.skip(`ethertype 0x${type.toString(16).padStart(4, '0')}`);
  }

  private skip(why: string): void {
    const s = this.stats.skipped;
    s[why] = (s[why] ?? 0) + 1;
  }

  private malformed(protocol: string, reason: string, frames: number[] = [this.curFrame]): void {
    const key = `${protocol}: ${reason}`;
    this.stats.malformed[key] = (this.stats.malformed[key] ?? 0) + 1;
    this.onMalformed({ protocol, reason, ref: { file: this.fileIndex, frames } });
  }

  private arp(b: Buffer, off: number, len: number): void {
    this.stats.arp++;
    // Ethernet/IPv4 ARP only (htype 1, ptype 0x0800, hlen 6, plen 4).
    if (off + 28 > len) return this.malformed('arp', 'truncated');
    if (u16(b, off) !== 1 || u16(b, off + 2) !== ETH_IPV4 || b[off + 4] !== 6 || b[off + 5] !== 4) return;
    const ip = u32(b, off + 14);
    if (ip === 0) return; // ARP probe (RFC 5227) says nothing about who owns an address
    this.bindMac(ip, b, off + 8);
  }

  /** Bind the current frame's local IPv4 source to its link-layer source (not for reassembled datagrams). */
  private bindCurrentSource(frames: number[] | undefined): void {
    if (frames === undefined && this.srcMacOff >= 0 && this.curSrcV4 >= 0 && isLocalIpv4Number(this.curSrcV4)) {
      this.bindMac(this.curSrcV4, this.linkBuf, this.srcMacOff);
    }
  }

  /** Remember which MAC sends from a local IPv4 address, and report each new pairing once. */
  private bindMac(ip: number, b: Buffer, macOff: number): void {
    const hi = u32(b, macOff);
    const lo = u16(b, macOff + 4);
    const packed = hi * 65536 + lo;
    if (!isDeviceMac(b, macOff)) return;
    if (this.macByIp.get(ip) === packed) return;
    if (this.macByIp.size >= CapturePipeline.maxMacBindings) {
      const oldest = this.macByIp.keys().next().value;
      if (oldest !== undefined) this.macByIp.delete(oldest);
    }
    this.macByIp.delete(ip);
    this.macByIp.set(ip, packed);
    const mac = macAt(b, macOff);
    this.emit({
      kind: 'mac', mac, oui: ouiOf(mac), device: { ip: ipv4FromNumber(ip), mac }, ts: this.curTs,
      ref: { file: this.fileIndex, frames: [this.curFrame] },
    });
  }

  private ipv4(b: Buffer, off: number, len: number): void {
    this.stats.ipv4++;
    if (off + 20 > len) return this.malformed('ipv4', 'truncated header');
    const vihl = b[off]!;
    const ihl = (vihl & 15) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || off + ihl > len) return this.malformed('ipv4', 'bad version or header length');
    const total = u16(b, off + 2);
    // Trust the IP total length over the capture length (Ethernet pads short frames), but never past caplen.
    const end = total >= ihl && off + total <= len ? off + total : len;
    const proto = b[off + 9]!;
    const src = u32(b, off + 12);
    // The IP→MAC binding is made later, for packets that reach an analyzer: RTP skips it.
    this.curSrcV4 = src;
    const flagsFrag = u16(b, off + 6);
    const mf = (flagsFrag & 0x2000) !== 0;
    const fragOffset = (flagsFrag & 0x1fff) * 8;
    if (mf || fragOffset > 0) {
      this.stats.ipv4Fragments++;
      const dst = u32(b, off + 16);
      const whole = this.fragments.push(src, dst, u16(b, off + 4), proto, fragOffset, mf, b.subarray(off + ihl, end), this.curFrame, this.curTs);
      if (!whole) return;
      // Reassembled: the transport layer reads from a fresh buffer; addresses are rebuilt from numbers.
      const hdr = Buffer.alloc(8);
      hdr.writeUInt32BE(src, 0);
      hdr.writeUInt32BE(dst, 4);
      this.transport(proto, whole.payload, 0, whole.payload.length, 4, hdr, 0, 4, whole.frames);
      return;
    }
    this.transport(proto, b, off + ihl, end, 4, b, off + 12, off + 16, undefined);
  }

  private ipv6(b: Buffer, off: number, len: number): void {
    this.stats.ipv6++;
    if (off + 40 > len) return this.malformed('ipv6', 'truncated header');
    if (b[off]! >> 4 !== 6) return this.malformed('ipv6', 'bad version');
    const payloadLen = u16(b, off + 4);
    const end = payloadLen > 0 && off + 40 + payloadLen <= len ? off + 40 + payloadLen : len;
    let next = b[off + 6]!;
    let p = off + 40;
    // Walk extension headers (RFC 8200 §4): hop-by-hop, routing, destination options, AH.
    for (let guard = 0; guard < 8; guard++) {
      if (next === 0 || next === 43 || next === 60) {
        if (p + 2 > end) return this.malformed('ipv6', 'truncated extension header');
        next = b[p]!;
        p += (b[p + 1]! + 1) * 8;
      } else if (next === 51) {
        if (p + 2 > end) return this.malformed('ipv6', 'truncated AH');
        next = b[p]!;
        p += (b[p + 1]! + 2) * 4;
      } else if (next === 44) {
        // Fragment header. IPv6 fragments are rare on SIP paths (PMTUD); counted, not reassembled yet.
        return this.skip('ipv6 fragment');
      } else break;
    }
    if (p > end) return this.malformed('ipv6', 'extension headers overrun the packet');
    this.transport(next, b, p, end, 6, b, off + 8, off + 24, undefined);
  }

  private transport(proto: number, b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, frames: number[] | undefined): void {
    if (proto === 17) this.udp(b, off, end, ipv, ab, srcOff, dstOff, frames);
    else if (proto === 6) this.tcpSegment(b, off, end, ipv, ab, srcOff, dstOff, frames);
  }

  private endpoint(ipv: 4 | 6, ab: Buffer, addrOff: number, port: number, macOff: number): Endpoint {
    const ep: Endpoint = { ip: ipv === 4 ? ipv4At(ab, addrOff) : ipv6At(ab, addrOff), port };
    if (macOff >= 0 && isDeviceMac(this.linkBuf, macOff) && (ipv === 6 || isLocalIpv4Number(u32(ab, addrOff)))) ep.mac = macAt(this.linkBuf, macOff);
    return ep;
  }

  private udp(b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, frames: number[] | undefined): void {
    this.stats.udp++;
    if (off + 8 > end) return this.malformed('udp', 'truncated header');
    const sport = u16(b, off);
    const dport = u16(b, off + 2);
    const ulen = u16(b, off + 4);
    const pOff = off + 8;
    const pEnd = ulen >= 8 && off + ulen <= end ? off + ulen : end;
    const plen = pEnd - pOff;
    if (plen <= 0) return;
    const first = b[pOff]!;
    // Well-known binary protocols go by port; everything else by content.
    let kind: 'dhcp' | 'dns' | 'ntp' | 'ddns' | 'sip' | 'goip-sms' | undefined;
    if (sport === 67 || sport === 68 || dport === 67 || dport === 68) kind = 'dhcp';
    else if (sport === 53 || dport === 53 || sport === 5353 || dport === 5353) kind = 'dns';
    else if (sport === 123 || dport === 123) kind = 'ntp';
    else if (first === 0x86 && plen >= 5 && b[pOff + 1] === 0x70 && b[pOff + 2] === 0x14 && b[pOff + 3] === 0x13) kind = 'ddns';
    else if ((first & 0xc0) === 0x80 && plen >= 12) {
      // RTP/RTCP version 2 (RFC 3550 §5.1): the bulk of a gateway's traffic. Count (and hand to the
      // stream tracker when behaviour analysis is on) and stop here.
      this.stats.rtpLike++;
      const sink = this.rtpSink;
      if (sink !== undefined) {
        const clock = sink.clock;
        clock[0] = this.curTs;
        clock[1] = this.fileIndex;
        clock[2] = frames ? frames[frames.length - 1]! : this.curFrame;
        sink.rtp(b, pOff, pEnd, ipv, ab, srcOff, dstOff, sport, dport);
      }
      return;
    } else if (first < 0x41 || first > 0x7a) return; // not an ASCII letter: none of our text protocols
    this.bindCurrentSource(frames);
    const payload = b.subarray(pOff, pEnd);
    if (kind === undefined) {
      if (looksLikeSip(payload)) kind = 'sip';
      else if (looksLikeGoipSms(payload)) kind = 'goip-sms';
      else return;
    } else if (kind === 'ddns' && !looksLikeDdns(payload)) return;
    const ctx: PacketContext = {
      src: this.endpoint(ipv, ab, srcOff, sport, frames ? -1 : this.srcMacOff),
      dst: this.endpoint(ipv, ab, dstOff, dport, frames ? -1 : this.dstMacOff),
      transport: 'udp',
      ts: this.curTs,
      ref: { file: this.fileIndex, frames: frames ?? [this.curFrame] },
    };
    this.stats.analyzed[kind] = (this.stats.analyzed[kind] ?? 0) + 1;
    let result: AnalyzerResult | null;
    try {
      switch (kind) {
        case 'dhcp': result = analyzeDhcp(payload, ctx); break;
        case 'dns': result = analyzeDns(payload, ctx); break;
        case 'ntp': result = analyzeNtp(payload, ctx); break;
        case 'ddns': result = analyzeDdns(payload, ctx); break;
        case 'sip': result = analyzeSip(payload, ctx); break;
        case 'goip-sms': result = analyzeGoipSms(payload, ctx); break;
      }
    } catch (e) {
      // An analyzer bug must not end the replay: count it against that payload, keep going.
      return this.analyzerFailed(kind, e, ctx.ref.frames);
    }
    if (result) this.take(result);
  }

  /** detect() runs on untrusted first bytes: one that throws does not claim the connection, and is counted. */
  private safeDetect(f: StreamAnalyzerFactory, data: Buffer, fromClient: boolean, conn: TcpConnectionInfo, frame: number): boolean {
    try {
      return f.detect(data, fromClient, conn);
    } catch (e) {
      this.analyzerFailed(f.protocol, e, [frame]);
      return false;
    }
  }

  private analyzerFailed(protocol: string, e: unknown, frames: number[]): void {
    const key = `${protocol}: analyzer error`;
    this.stats.malformed[key] = (this.stats.malformed[key] ?? 0) + 1;
    this.onMalformed({ protocol, reason: `analyzer error: ${e instanceof Error ? e.message : String(e)}`, ref: { file: this.fileIndex, frames } });
  }

  private take(result: AnalyzerResult): void {
    for (const o of result.observations) this.emit(o);
    if (result.malformed) {
      for (const m of result.malformed) {
        const key = `${m.protocol}: ${m.reason}`;
        this.stats.malformed[key] = (this.stats.malformed[key] ?? 0) + 1;
        this.onMalformed(m);
      }
    }
  }

  private emit(o: Observation): void {
    this.stats.observations++;
    this.onObservation(o);
  }

  private tcpSegment(b: Buffer, off: number, end: number, ipv: 4 | 6, ab: Buffer, srcOff: number, dstOff: number, frames: number[] | undefined): void {
    this.stats.tcp++;
    this.bindCurrentSource(frames);
    if (off + 20 > end) return this.malformed('tcp', 'truncated header');
    const dataOff = (b[off + 12]! >> 4) * 4;
    if (dataOff < 20 || off + dataOff > end) return this.malformed('tcp', 'bad data offset');
    const flags = b[off + 13]!;
    const src = this.endpoint(ipv, ab, srcOff, u16(b, off), frames ? -1 : this.srcMacOff);
    const dst = this.endpoint(ipv, ab, dstOff, u16(b, off + 2), frames ? -1 : this.dstMacOff);
    this.tcp.push({
      fileIndex: this.fileIndex,
      srcIp: src.ip, dstIp: dst.ip, srcPort: src.port ?? 0, dstPort: dst.port ?? 0,
      srcMac: src.mac, dstMac: dst.mac,
      seq: u32(b, off + 4), ack: u32(b, off + 8),
      syn: (flags & 0x02) !== 0, fin: (flags & 0x01) !== 0, rst: (flags & 0x04) !== 0, ackFlag: (flags & 0x10) !== 0,
      payload: b.subarray(off + dataOff, end),
      frame: frames ? frames[frames.length - 1]! : this.curFrame,
      ts: this.curTs,
    });
  }

  /** A new TCP connection: pick stream analyzers by the first bytes of either direction. */
  private openTcp(conn: TcpConnectionInfo): TcpStreamConsumer {
    let analyzers: StreamAnalyzer[] | undefined;
    let offered = 0;
    return {
      data: (fromClient, data, frame, ts) => {
        if (!analyzers) {
          offered++;
          const chosen = streamAnalyzers.filter((f) => this.safeDetect(f, data, fromClient, conn, frame)).map((f) => f.create(conn));
          if (chosen.length === 0) return offered < 2; // give the other direction one chance (servers that speak first)
          analyzers = chosen;
          for (const a of chosen) this.stats.analyzed[a.protocol] = (this.stats.analyzed[a.protocol] ?? 0) + 1;
        }
        for (const a of analyzers) {
          try {
            this.take(a.push(fromClient, data, frame, ts));
          } catch (e) {
            this.analyzerFailed(a.protocol, e, [frame]);
          }
        }
        return true;
      },
      gap: (fromClient, missing, frame) => {
        this.malformed('tcp', `stream gap of ${missing} bytes (${fromClient ? 'client' : 'server'} side)`, [frame]);
      },
      close: () => {
        if (!analyzers) return;
        for (const a of analyzers) {
          try {
            this.take(a.end());
          } catch (e) {
            this.analyzerFailed(a.protocol, e, [conn.firstFrame]);
          }
        }
      },
    };
  }
}

export type { CaptureRef };
