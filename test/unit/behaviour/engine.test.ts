/**
 * Behaviour analysis wired into the detection engine: SIP text through analyzeSip, RTP headers
 * through the engine's RTP sink, findings out. The traffic is synthetic, written for this test
 * (an 8-line gateway fed by a softswitch, the shape the issue describes: one call per line, short
 * calls, low answer ratio, mainland China mobile callees, G.729); the sipp-made captures of
 * fixtures/behaviour/ are checked end to end by test/e2e/fixtures.test.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DetectionEngine } from '../../../src/detect/engine.js';
import { defaultBehaviourConfig } from '../../../src/behaviour/defaults.js';
import { featureDefaults } from '../../../src/behaviour/defaults.js';
import { analyzeSip } from '../../../src/protocols/sip/analyzer.js';
import type { Endpoint, Observation } from '../../../src/protocols/types.js';
import { seededRandom } from '../../helpers/random.js';

const GW_IP = '192.168.50.20';
const SS: Endpoint = { ip: '203.0.113.10', port: 5060 };
const T0 = 1_767_000_000_000;
const LINES = 8;

interface Ev { ts: number; text?: string; src: Endpoint; dst: Endpoint; rtp?: { ssrc: number; seq: number; rtpTs: number; dport: number } }

function sdp(ip: string, port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`;
}

function msg(start: string, headers: Record<string, string>, body = ''): string {
  const h = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
  return `${start}\r\n${h}\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** One softswitch driving an 8-line gateway for 20 minutes: each line one call at a time. */
function farmTraffic(seed: number): Ev[] {
  const rnd = seededRandom(seed);
  const ev: Ev[] = [];
  let n = 0;
  for (let line = 0; line < LINES; line++) {
    const gw: Endpoint = { ip: GW_IP, port: 5060 + 2 * line };
    const user = `80${String(line + 1).padStart(2, '0')}`;
    ev.push({ ts: T0 + line * 50, src: gw, dst: SS, text: msg(`REGISTER sip:203.0.113.10 SIP/2.0`, {
      Via: `SIP/2.0/UDP ${GW_IP}:${gw.port};branch=z9hG4bKr${line}`, From: `<sip:${user}@203.0.113.10>;tag=r${line}`, To: `<sip:${user}@203.0.113.10>`,
      'Call-ID': `reg${line}@${GW_IP}`, CSeq: '1 REGISTER', Contact: `<sip:${user}@${GW_IP}:${gw.port}>`, Expires: '3600',
    }) });
    let t = T0 + 1000 + line * 700;
    while (t < T0 + 20 * 60_000) {
      n++;
      const callId = `c${n}@203.0.113.10`;
      const callee = `13${String(Math.floor(rnd() * 1e9)).padStart(9, '0')}`;
      const base = { Via: `SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK${n}`, From: `<sip:0085212345678@203.0.113.10>;tag=f${n}`, 'Call-ID': callId };
      const to = `<sip:${callee}@${GW_IP}>`;
      ev.push({ ts: t, src: SS, dst: gw, text: msg(`INVITE sip:${callee}@${GW_IP}:${gw.port} SIP/2.0`, { ...base, To: to, CSeq: '1 INVITE', Contact: '<sip:ss@203.0.113.10>' }, sdp('203.0.113.10', 40000 + 2 * (n % 1000))) });
      const ring = 3000 + Math.floor(rnd() * 12_000);
      ev.push({ ts: t + 300, src: gw, dst: SS, text: msg('SIP/2.0 180 Ringing', { ...base, To: `${to};tag=g${n}`, CSeq: '1 INVITE' }) });
      if (rnd() < 0.3) {
        const talk = 15_000 + Math.floor(rnd() * 30_000);
        const rtpPort = 20000 + 2 * line;
        ev.push({ ts: t + ring, src: gw, dst: SS, text: msg('SIP/2.0 200 OK', { ...base, To: `${to};tag=g${n}`, CSeq: '1 INVITE', Contact: `<sip:${GW_IP}:${gw.port}>` }, sdp(GW_IP, rtpPort)) });
        // G.729 at ptime 20 from the gateway, every 200 ms here to keep the test small (ssrc per call).
        for (let k = 0; k * 200 < talk; k++) ev.push({ ts: t + ring + k * 200, src: { ip: GW_IP, port: rtpPort }, dst: SS, rtp: { ssrc: 0x1000 + n, seq: k, rtpTs: k * 1600, dport: 40000 + 2 * (n % 1000) } });
        ev.push({ ts: t + ring + talk, src: SS, dst: gw, text: msg(`BYE sip:${GW_IP}:${gw.port} SIP/2.0`, { ...base, Via: `SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKb${n}`, To: `${to};tag=g${n}`, CSeq: '2 BYE' }) });
        t += ring + talk + 2000 + Math.floor(rnd() * 6000);
      } else {
        ev.push({ ts: t + ring, src: gw, dst: SS, text: msg(`SIP/2.0 ${rnd() < 0.5 ? '486 Busy Here' : '480 Temporarily Unavailable'}`, { ...base, To: `${to};tag=g${n}`, CSeq: '1 INVITE' }) });
        t += ring + 2000 + Math.floor(rnd() * 6000);
      }
    }
  }
  return ev.sort((a, b) => a.ts - b.ts);
}

function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

function run(events: Ev[]): DetectionEngine {
  const engine = new DetectionEngine([], { behaviour: defaultBehaviourConfig() });
  const sink = engine.rtpSink!;
  let frame = 0;
  for (const e of events) {
    frame++;
    if (e.text !== undefined) {
      const r = analyzeSip(Buffer.from(e.text), { src: e.src, dst: e.dst, transport: 'udp', ts: e.ts, ref: { file: 0, frames: [frame] } });
      for (const o of r?.observations ?? []) engine.observe(o as Observation);
    } else if (e.rtp) {
      const pkt = Buffer.alloc(32);
      pkt[0] = 0x80;
      pkt[1] = 18;
      pkt.writeUInt16BE(e.rtp.seq & 0xffff, 2);
      pkt.writeUInt32BE(e.rtp.rtpTs >>> 0, 4);
      pkt.writeUInt32BE(e.rtp.ssrc >>> 0, 8);
      const ab = Buffer.concat([ipBytes(e.src.ip), ipBytes(e.dst.ip)]);
      sink.packet(pkt, 0, pkt.length, 4, ab, 0, 4, e.src.port!, e.rtp.dport, e.ts, 0, frame);
    }
  }
  return engine;
}

describe('behaviour inside the detection engine', () => {
  it('finds the 8-line gateway by behaviour alone (no User-Agent, no signature), not the softswitch that feeds it', () => {
    const engine = run(farmTraffic(5));
    engine.endOfInput();
    const r = engine.finish();
    const farms = r.findings.filter((f) => f.kind === 'sim-farm');
    expect(farms.map((f) => f.device)).toEqual([`ip:${GW_IP}`]);
    const f = farms[0]!;
    expect(r.findings.filter((x) => x.kind === 'voip-gsm-gateway')).toEqual([]);
    const fired = f.behaviour!.features.filter((x) => x.fired).map((x) => x.name);
    expect(fired).toEqual(expect.arrayContaining(['lines', 'lineSaturation', 'answerRatio', 'callDuration', 'mobileShare', 'lowBitrateCodec', 'oneWay']));
    expect(f.evidence.map((e) => e.signature).sort()).toEqual(fired.map((n) => `behaviour.${n}`).sort());
    expect(f.behaviour!.counters.registeredLines).toBe(LINES);
    expect(f.behaviour!.counters.concurrentMax).toBeLessThanOrEqual(LINES);
    expect(f.behaviour!.counters.rtpStreams).toBeGreaterThan(0);
    expect(f.behaviour!.counters.codecs).toHaveProperty('G729');
    expect(f.score).toBeGreaterThanOrEqual(0.8);
    // The softswitch places every call but hosts no line: scored, below the threshold.
    const ss = r.behaviour!.profiles.find((p) => p.device === 'ip:203.0.113.10')!;
    expect(ss.simFarm).toBe(false);
    expect(r.behaviour!.stats.calls.calls).toBe(f.behaviour!.counters.attempts);
  });

  it('finish() is repeatable: asking twice (as a live probe does) gives the same findings', () => {
    const engine = run(farmTraffic(9));
    const a = engine.finish();
    const b = engine.finish();
    expect(b.findings).toEqual(a.findings);
    expect(b.behaviour!.profiles).toEqual(a.behaviour!.profiles);
  });

  it('makes no behaviour finding and keeps no behaviour state when behaviour is off', () => {
    const engine = new DetectionEngine([], { behaviour: { ...defaultBehaviourConfig(), enabled: false } });
    expect(engine.rtpSink).toBeUndefined();
    expect(engine.finish().behaviour).toBeUndefined();
  });

  it('docs/behaviour.md states every default threshold and weight as src/behaviour/defaults.ts has them', () => {
    const doc = readFileSync(resolve(__dirname, '../../../docs/behaviour.md'), 'utf8');
    for (const [name, d] of Object.entries(featureDefaults)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      const [, , fires, weight] = row!.split('|').map((c) => c.trim());
      expect(Number(fires!.replace(/[^\d.]/g, '')), `${name} threshold`).toBe(d.threshold);
      expect(Number(weight), `${name} weight`).toBe(d.weight);
    }
  });
});
