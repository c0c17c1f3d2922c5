/**
 * The decoder in CapturePipeline: link layers, IP, UDP/TCP dispatch, the RTP fast path and the
 * bookkeeping of what it could not read. Frames are built from the layouts named in
 * test/helpers/frames.ts; the same encapsulations made by real tools are replayed in test/e2e.
 */
import { describe, expect, it } from 'vitest';
import { CapturePipeline } from '../../src/capture/pipeline.js';
import { Dlt } from '../../src/capture/file-source.js';
import type { Observation } from '../../src/protocols/types.js';
import { ethernet, frame, ipv4, ipv6, sll, sll2, udp } from '../helpers/frames.js';

// goip-protocols.md §1.1.1, the official EN PDF example keep-alive.
const keepAlive = Buffer.from('req:10;id:goipid1;pass:password1;num:12345;signal:23;gsm_status:LOGIN;voip_status:LOGIN;');
const GW_MAC = '38:3f:10:00:00:01';
const SRV_MAC = '02:00:00:00:00:02';

function run(frames: ReturnType<typeof frame>[]): { obs: Observation[]; p: CapturePipeline } {
  const obs: Observation[] = [];
  const p = new CapturePipeline((o) => obs.push(o));
  p.beginFile(0);
  for (const f of frames) p.frame(f);
  p.endFile();
  return { obs, p };
}

const ip4 = ipv4('192.168.1.20', '192.168.1.1', 17, udp(40000, 9991, keepAlive));

describe('link layers', () => {
  const cases: Array<[string, number, Buffer]> = [
    ['Ethernet II', Dlt.Ethernet, ethernet(SRV_MAC, GW_MAC, 0x0800, ip4)],
    ['802.1Q tag', Dlt.Ethernet, ethernet(SRV_MAC, GW_MAC, 0x0800, ip4, [[0x8100, 100]])],
    ['QinQ (802.1ad outer, 802.1Q inner)', Dlt.Ethernet, ethernet(SRV_MAC, GW_MAC, 0x0800, ip4, [[0x88a8, 200], [0x8100, 100]])],
    ['pre-standard QinQ 0x9100', Dlt.Ethernet, ethernet(SRV_MAC, GW_MAC, 0x0800, ip4, [[0x9100, 300], [0x8100, 100]])],
    ['Linux cooked SLL', Dlt.LinuxSll, sll(GW_MAC, 0x0800, ip4)],
    ['Linux cooked SLL2', Dlt.LinuxSll2, sll2(GW_MAC, 0x0800, ip4)],
  ];
  it.each(cases)('reads a GoIP keep-alive behind %s and keeps the sender MAC', (_name, dlt, data) => {
    const { obs } = run([frame(dlt, data)]);
    const ka = obs.find((o) => o.kind === 'goip-keepalive');
    expect(ka?.device).toMatchObject({ ip: '192.168.1.20', port: 40000, mac: GW_MAC });
    expect(obs.find((o) => o.kind === 'mac')).toMatchObject({ mac: GW_MAC, oui: '38:3f:10' });
  });

  it('reads raw IPv4 and raw IPv6 (LINKTYPE_RAW), with no MAC to report', () => {
    const v6 = ipv6(Buffer.from('fd000000000000000000000000000020', 'hex'), Buffer.from('fd000000000000000000000000000001', 'hex'), 17, udp(40000, 9991, keepAlive));
    const { obs } = run([frame(Dlt.Raw, ip4, 1), frame(Dlt.Raw, v6, 2)]);
    const kas = obs.filter((o) => o.kind === 'goip-keepalive');
    expect(kas.map((o) => o.device.ip)).toEqual(['192.168.1.20', 'fd00::20']);
    expect(kas.every((o) => o.device.mac === undefined)).toBe(true);
  });

  it('counts frames of link types it does not decode instead of failing', () => {
    const { obs, p } = run([frame(127, Buffer.alloc(40))]);
    expect(obs).toEqual([]);
    expect(p.stats.skipped['link type 127']).toBe(1);
  });

  it('counts a truncated IPv4 header as malformed', () => {
    const { p } = run([frame(Dlt.Ethernet, ethernet(SRV_MAC, GW_MAC, 0x0800, Buffer.alloc(10)))]);
    expect(p.stats.malformed['ipv4: truncated header']).toBe(1);
  });
});

describe('IPv4 and IPv6', () => {
  it('reassembles a fragmented UDP datagram and cites every frame', () => {
    const whole = udp(40000, 9991, keepAlive);
    const a = ipv4('192.168.1.20', '192.168.1.1', 17, whole.subarray(0, 48), { id: 7, mf: true, offset: 0 });
    const b = ipv4('192.168.1.20', '192.168.1.1', 17, whole.subarray(48), { id: 7, mf: false, offset: 48 });
    // Second fragment first: reassembly must not depend on order.
    const { obs, p } = run([frame(Dlt.Raw, b, 5), frame(Dlt.Raw, a, 6)]);
    const ka = obs.find((o) => o.kind === 'goip-keepalive');
    expect(ka?.ref.frames).toEqual([5, 6]);
    expect(p.stats.ipv4Fragments).toBe(2);
  });

  it('walks IPv6 extension headers (hop-by-hop, destination options) to UDP', () => {
    const inner = udp(40000, 9991, keepAlive);
    // Hop-by-hop (next 60), then destination options (next 17), each 8 bytes: next, len 0, 6 bytes PadN.
    const hbh = Buffer.from([60, 0, 1, 4, 0, 0, 0, 0]);
    const dst = Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]);
    const pkt = ipv6(Buffer.alloc(16, 1), Buffer.alloc(16, 2), 0, Buffer.concat([hbh, dst, inner]));
    const { obs } = run([frame(Dlt.Raw, pkt)]);
    expect(obs.some((o) => o.kind === 'goip-keepalive')).toBe(true);
  });
});

describe('UDP dispatch', () => {
  it('counts RTP (version 2) and hands it to no analyzer', () => {
    const rtp = Buffer.alloc(32);
    rtp[0] = 0x80;
    rtp[1] = 18;
    const { obs, p } = run([frame(Dlt.Raw, ipv4('10.0.0.2', '10.0.0.3', 17, udp(10000, 20000, rtp)))]);
    expect(p.stats.rtpLike).toBe(1);
    expect(obs).toEqual([]);
  });

  it('recognises SIP on a port other than 5060 by content', () => {
    const invite = Buffer.from('OPTIONS sip:100@10.0.0.3 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5080;branch=z9hG4bK1\r\nCall-ID: a@b\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@10.0.0.3>\r\nUser-Agent: dble\r\nContent-Length: 0\r\n\r\n');
    const { obs } = run([frame(Dlt.Raw, ipv4('10.0.0.2', '10.0.0.3', 17, udp(5080, 7777, invite)))]);
    expect(obs.find((o) => o.kind === 'sip')).toMatchObject({ method: 'OPTIONS', userAgent: 'dble' });
  });

  it('counts a garbage GoIP-looking payload as malformed, with no observation and no failure', () => {
    const junk = Buffer.from('req:notanumber;;;\x00\x01');
    const { obs, p } = run([frame(Dlt.Raw, ipv4('10.0.0.2', '10.0.0.3', 17, udp(1, 2, junk)))]);
    expect(obs.filter((o) => o.kind !== 'mac')).toEqual([]);
    expect(p.stats.analyzed['goip-sms']).toBe(1);
    expect(Object.keys(p.stats.malformed).filter((k) => k.startsWith('goip-sms:'))).toHaveLength(1);
  });
});

describe('TCP', () => {
  it('reads a SIP message split over two segments as one message citing both frames', () => {
    const msg = 'REGISTER sip:reg.example SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.2:5060;branch=z9hG4bK2\r\nCall-ID: r@x\r\nCSeq: 1 REGISTER\r\nFrom: <sip:101@reg.example>;tag=9\r\nTo: <sip:101@reg.example>\r\nContent-Length: 0\r\n\r\n';
    const tcp = (seq: number, flags: number, data: string) => {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(40001, 0);
      h.writeUInt16BE(5060, 2);
      h.writeUInt32BE(seq, 4);
      h[12] = 5 << 4;
      h[13] = flags;
      return Buffer.concat([h, Buffer.from(data)]);
    };
    const f = (n: number, seq: number, flags: number, data: string) => frame(Dlt.Raw, ipv4('10.0.0.2', '10.0.0.3', 6, tcp(seq, flags, data)), n);
    const { obs } = run([f(1, 99, 0x02, ''), f(2, 100, 0x18, msg.slice(0, 50)), f(3, 150, 0x18, msg.slice(50))]);
    const sip = obs.filter((o) => o.kind === 'sip');
    expect(sip).toHaveLength(1);
    expect(sip[0]).toMatchObject({ method: 'REGISTER', aor: 'sip:101@reg.example' });
    expect(sip[0]!.ref.frames).toEqual([2, 3]);
  });
});
