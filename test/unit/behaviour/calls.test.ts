/**
 * SIP call tracker. Every message is SIP text run through analyzeSip, so the flows exercise real
 * parsing. Sources:
 * - the flows follow RFC 3665 (basic call flows: §3.1 successful session, §3.6 busy, §3.8
 *   unsuccessful no answer with CANCEL) and the RFC 3261 rules cited per case; the messages are
 *   synthetic, written for this test, with a GoIP-shaped caller built from the [RE]-only markers of
 *   goip-protocols.md §1.4/§4 (User-Agent `dble`, offer `8 0 18 4 101` with ptime 20);
 * - URI samples from RFC 3261 §19.1.3 and RFC 3966 §3/§7, others marked synthetic;
 * - fixtures/negative-pbx-trunk.pcap (sipp), checked against tshark.
 */
import { GOIP_SDP_OFFER } from '../../helpers/sip-samples.js';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CallTracker, phoneDigits, uriUser, type CallTrackerOptions } from '../../../src/behaviour/calls.js';
import type { CallRecord, MediaExpectation } from '../../../src/behaviour/types.js';
import { readCaptureFile } from '../../../src/capture/file-source.js';
import { CapturePipeline } from '../../../src/capture/pipeline.js';
import { analyzeSip } from '../../../src/protocols/sip/analyzer.js';
import type { Endpoint, SipObservation } from '../../../src/protocols/types.js';
import { seededRandom } from '../../helpers/random.js';

const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');

/** The GoIP-like gateway (caller side) and the softswitch it sends calls to. */
const GW: Endpoint = { ip: '192.168.1.30', port: 5060, mac: '38:3f:10:00:00:01' };
const SS: Endpoint = { ip: '192.0.2.10', port: 5060 };
const T0 = 1_717_000_000_000;

// goip-protocols.md §1.4/§4 [RE]: origin template, codec order, DTMF 101, ptime 20.
const GOIP_OFFER = GOIP_SDP_OFFER;
// Synthetic: the softswitch's answer (PCMA + DTMF).
const SS_ANSWER = `v=0
o=- 311 311 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 30000 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=ptime:20
`;
// Synthetic: a re-INVITE moving the media to another relay port.
const SS_REOFFER = `v=0
o=- 311 312 IN IP4 192.0.2.21
s=-
c=IN IP4 192.0.2.21
t=0 0
m=audio 30002 RTP/AVP 8 101
a=rtpmap:101 telephone-event/8000
`;
// Synthetic: the GoIP's answer to the re-INVITE.
const GOIP_REANSWER = `v=0
o=userX 20000001 20000002 IN IP4 192.168.1.30
s=DBL Session
c=IN IP4 192.168.1.30
t=0 0
m=audio 10002 RTP/AVP 8 101
a=rtpmap:101 telephone-event/8000
`;
// Synthetic: RFC 2543-style hold (c=0.0.0.0, RFC 3264 §8.4) and a rejected video stream (port 0).
const HOLD = `v=0
o=- 311 313 IN IP4 192.0.2.20
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 30000 RTP/AVP 8
`;
const VIDEO_REJECTED = `v=0
o=- 311 314 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 30004 RTP/AVP 0 96
a=rtpmap:96 opus/48000/2
m=audio 0 RTP/AVP 8
m=video 40000 RTP/AVP 31
`;
// Synthetic late offer (RFC 3261 §13.2.1): the offer in the softswitch's 2xx, ptime 30 …
const SS_LATE_OFFER = `v=0
o=- 400 400 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 30006 RTP/AVP 0 8 101
a=rtpmap:101 telephone-event/8000
a=ptime:30
`;
// … and the answer in the GoIP's ACK.
const GOIP_LATE_ANSWER = `v=0
o=userX 20000001 20000001 IN IP4 192.168.1.30
s=DBL Session
c=IN IP4 192.168.1.30
t=0 0
m=audio 10004 RTP/AVP 8 101
a=rtpmap:101 telephone-event/8000
a=ptime:20
`;

interface CallSpec {
  callId: string;
  /** From of the INVITE, without tag. */
  from: string;
  to: string;
  ruri: string;
}

const CALL: CallSpec = {
  callId: '1804289383@192.168.1.30',
  from: '"8001" <sip:8001@192.0.2.10>',
  to: '<sip:8613812345678@192.0.2.10>',
  ruri: 'sip:8613812345678@192.0.2.10:5060',
};

function message(start: string, headers: Array<[string, string]>, sdp?: string): string {
  const body = sdp === undefined ? '' : crlf(sdp);
  const lines = headers.map(([k, v]) => `${k}: ${v}`);
  if (sdp !== undefined) lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${start}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

interface Opts {
  sdp?: string;
  ua?: string;
  /** Request sent by the callee (From/To swapped, RFC 3261 §12.2.1.1). */
  fromCallee?: boolean;
  server?: string;
  callId?: string;
}

function invite(c: CallSpec, cseq: number, o: Opts = {}): string {
  return message(`INVITE ${c.ruri} SIP/2.0`, [
    ['Via', `SIP/2.0/UDP 192.168.1.30:5060;branch=z9hG4bK${1000 + cseq}`],
    ['From', `${c.from};tag=846930886`],
    ['To', c.to],
    ['Call-ID', o.callId ?? c.callId],
    ['CSeq', `${cseq} INVITE`],
    ['Contact', '<sip:8001@192.168.1.30:5060>'],
    ...(o.ua !== undefined ? [['User-Agent', o.ua] as [string, string]] : []),
  ], o.sdp);
}

function response(c: CallSpec, status: number, reason: string, cseq: string, o: Opts = {}): string {
  return message(`SIP/2.0 ${status} ${reason}`, [
    ['Via', 'SIP/2.0/UDP 192.168.1.30:5060;branch=z9hG4bK1001'],
    ['From', `${c.from};tag=846930886`],
    ['To', status === 100 ? c.to : `${c.to};tag=as1`],
    ['Call-ID', o.callId ?? c.callId],
    ['CSeq', cseq],
    ...(o.server !== undefined ? [['Server', o.server] as [string, string]] : []),
  ], o.sdp);
}

function request(c: CallSpec, method: string, cseq: number, o: Opts = {}): string {
  const from = o.fromCallee === true ? `${c.to};tag=as1` : `${c.from};tag=846930886`;
  const to = o.fromCallee === true ? `${c.from};tag=846930886` : `${c.to};tag=as1`;
  return message(`${method} sip:8001@192.168.1.30:5060 SIP/2.0`, [
    ['Via', 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx'],
    ['From', from],
    ['To', to],
    ['Call-ID', o.callId ?? c.callId],
    ['CSeq', `${cseq} ${method}`],
    ...(o.ua !== undefined ? [['User-Agent', o.ua] as [string, string]] : []),
  ], o.sdp);
}

/** One message on the wire: ms after T0, sender, receiver, text. */
type Step = [number, Endpoint, Endpoint, string];
const up = (t: number, text: string): Step => [t, GW, SS, text];
const down = (t: number, text: string): Step => [t, SS, GW, text];

function observation(step: Step, frame: number, file = 0): SipObservation {
  const [t, src, dst, text] = step;
  const result = analyzeSip(Buffer.from(text, 'utf8'), { src, dst, transport: 'udp', ts: T0 + t, ref: { file, frames: [frame] } });
  const obs = result?.observations[0];
  if (obs === undefined || obs.kind !== 'sip') throw new Error(`not read as SIP: ${JSON.stringify(result?.malformed)}\n${text}`);
  return obs;
}

interface Run {
  tracker: CallTracker;
  records: CallRecord[];
  media: MediaExpectation[];
}

function tracker(opts: Partial<CallTrackerOptions> = {}): Run {
  const records: CallRecord[] = [];
  const media: MediaExpectation[] = [];
  const t = new CallTracker({ onCallClosed: (c) => records.push(c), onMedia: (e) => media.push(e), ...opts });
  return { tracker: t, records, media };
}

/** Feed steps (frame numbers 1, 2, … in order); `end` then sweeps at that time, or flushes. */
function run(steps: Step[], end: { sweepAt?: number; flush?: boolean } = {}, opts: Partial<CallTrackerOptions> = {}): Run {
  const r = tracker(opts);
  steps.forEach((s, i) => r.tracker.observe(observation(s, i + 1)));
  if (end.sweepAt !== undefined) r.tracker.sweep(T0 + end.sweepAt);
  if (end.flush === true) r.tracker.flush();
  return r;
}

const GOIP = { ua: 'dble' };
const SRV = { server: 'Softswitch 1.0' };

// ───────────────────────────── flows ─────────────────────────────

interface Flow {
  name: string;
  steps: Step[];
  end?: { sweepAt?: number; flush?: boolean };
  opts?: Partial<CallTrackerOptions>;
  record: Partial<CallRecord>;
  /** Record fields that must be absent. */
  absent?: Array<keyof CallRecord>;
  stats?: Partial<CallTracker['stats']>;
}

const flows: Flow[] = [
  {
    name: 'answered, caller hangs up (RFC 3665 §3.1; BYE ends the dialog §15.1.1)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER, ...GOIP })),
      down(10, response(CALL, 100, 'Trying', '1 INVITE', SRV)),
      down(2_500, response(CALL, 180, 'Ringing', '1 INVITE', SRV)),
      down(9_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER, ...SRV })),
      up(9_010, request(CALL, 'ACK', 1, GOIP)),
      up(69_000, request(CALL, 'BYE', 2, GOIP)),
      down(69_010, response(CALL, 200, 'OK', '2 BYE', SRV)),
    ],
    record: {
      callId: CALL.callId, uac: GW, uas: SS, caller: '8001', toUser: '8613812345678', requestUser: '8613812345678',
      callee: '8613812345678', requestHostPort: '192.0.2.10:5060', inviteTs: T0, ringingTs: T0 + 2_500, answerTs: T0 + 9_000,
      endTs: T0 + 69_000, outcome: 'answered', finalStatus: 200, setupDelayMs: 2_500, durationMs: 60_000, endedBy: 'uac',
      offeredCodecs: ['PCMA', 'PCMU', 'G729', 'G723'], codec: 'PCMA', ptimeMs: 20, uacAgent: 'dble', uasAgent: 'Softswitch 1.0',
      ref: { file: 0, frames: [1, 3, 4, 6] },
    },
    stats: { calls: 1, open: 0, orphans: 0, retransmissions: 0, reinvites: 0, timedOut: 0 },
  },
  {
    name: 'answered, callee hangs up: endedBy uas (RFC 3665 §3.1 F14 from Bob; §15)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(300, response(CALL, 183, 'Session Progress', '1 INVITE', { sdp: SS_ANSWER })),
      down(4_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(4_010, request(CALL, 'ACK', 1)),
      down(34_000, request(CALL, 'BYE', 7, { fromCallee: true, ua: 'Softswitch 1.0' })),
      up(34_005, response(CALL, 200, 'OK', '7 BYE', { server: 'dble' })),
    ],
    record: { outcome: 'answered', ringingTs: T0 + 300, setupDelayMs: 300, durationMs: 30_000, endTs: T0 + 34_000, endedBy: 'uas', uasAgent: 'Softswitch 1.0', codec: 'PCMA' },
    stats: { calls: 1, orphans: 0 },
  },
  {
    name: '486 Busy Here → busy (RFC 3665 §3.6; §21.4.24)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(10, response(CALL, 100, 'Trying', '1 INVITE')),
      down(800, response(CALL, 486, 'Busy Here', '1 INVITE')),
      up(810, request(CALL, 'ACK', 1)),
    ],
    record: { outcome: 'busy', finalStatus: 486, setupDelayMs: 800, endTs: T0 + 800, codec: 'PCMA', ref: { file: 0, frames: [1, 3] } },
    absent: ['answerTs', 'durationMs', 'ringingTs', 'endedBy'],
    stats: { calls: 1, open: 0, orphans: 0 },
  },
  {
    name: '480 after ringing → no-answer, setup delay to the 180 (§21.4.18)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_200, response(CALL, 180, 'Ringing', '1 INVITE')),
      down(31_200, response(CALL, 480, 'Temporarily Unavailable', '1 INVITE')),
      up(31_210, request(CALL, 'ACK', 1)),
    ],
    record: { outcome: 'no-answer', finalStatus: 480, setupDelayMs: 1_200, endTs: T0 + 31_200 },
    absent: ['answerTs', 'durationMs'],
  },
  {
    name: 'CANCEL after 180, then 487 → no-answer, ended by the caller (RFC 3665 §3.8; §9.1)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(500, response(CALL, 180, 'Ringing', '1 INVITE')),
      up(20_000, request(CALL, 'CANCEL', 1)),
      down(20_010, response(CALL, 200, 'OK', '1 CANCEL')),
      down(20_020, response(CALL, 487, 'Request Terminated', '1 INVITE')),
      up(20_030, request(CALL, 'ACK', 1)),
    ],
    record: { outcome: 'no-answer', finalStatus: 487, endedBy: 'uac', endTs: T0 + 20_020, setupDelayMs: 500, ref: { file: 0, frames: [1, 2, 3, 5] } },
    stats: { calls: 1, open: 0, orphans: 0 },
  },
  {
    name: 'CANCEL before any 18x, then 487 → cancelled (§9.1)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(10, response(CALL, 100, 'Trying', '1 INVITE')),
      up(1_500, request(CALL, 'CANCEL', 1)),
      down(1_520, response(CALL, 487, 'Request Terminated', '1 INVITE')),
    ],
    record: { outcome: 'cancelled', finalStatus: 487, endedBy: 'uac', setupDelayMs: 1_520 },
    absent: ['ringingTs'],
  },
  {
    name: 'CANCEL after 180 and no 487 captured → no-answer at CANCEL + 64·T1 (§9.1)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(500, response(CALL, 180, 'Ringing', '1 INVITE')),
      up(20_000, request(CALL, 'CANCEL', 1)),
    ],
    end: { sweepAt: 52_000 },
    record: { outcome: 'no-answer', endedBy: 'uac', endTs: T0 + 20_000 },
    absent: ['finalStatus'],
    stats: { calls: 1, open: 0, timedOut: 0 },
  },
  {
    name: 'CANCEL without 18x and no 487, capture ends → cancelled',
    steps: [up(0, invite(CALL, 1, { sdp: GOIP_OFFER })), up(900, request(CALL, 'CANCEL', 1))],
    end: { flush: true },
    record: { outcome: 'cancelled', endedBy: 'uac', endTs: T0 + 900 },
  },
  {
    name: '401 challenge then INVITE with credentials, answered: one attempt from the first INVITE (§22.2)',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(20, response(CALL, 401, 'Unauthorized', '1 INVITE')),
      up(30, request(CALL, 'ACK', 1)),
      up(40, invite(CALL, 2, { sdp: GOIP_OFFER })),
      down(50, response(CALL, 100, 'Trying', '2 INVITE')),
      down(1_040, response(CALL, 180, 'Ringing', '2 INVITE')),
      down(5_040, response(CALL, 200, 'OK', '2 INVITE', { sdp: SS_ANSWER })),
      up(5_050, request(CALL, 'ACK', 2)),
      up(15_040, request(CALL, 'BYE', 3)),
    ],
    record: {
      outcome: 'answered', inviteTs: T0, setupDelayMs: 1_040, finalStatus: 200, durationMs: 10_000,
      ref: { file: 0, frames: [1, 2, 4, 6, 7, 9] },
    },
    stats: { calls: 1, open: 0, orphans: 0, retransmissions: 0, reinvites: 0 },
  },
  {
    name: '407 challenge never answered → rejected 407 after 64·T1 (§22.3)',
    steps: [up(0, invite(CALL, 1, { sdp: GOIP_OFFER })), down(20, response(CALL, 407, 'Proxy Authentication Required', '1 INVITE'))],
    end: { sweepAt: 40_000 },
    record: { outcome: 'rejected', finalStatus: 407, endTs: T0 + 20, setupDelayMs: 20 },
  },
  {
    name: 'INVITE retransmissions (Timer A, §17.1.1.2) are counted, not new calls',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      up(500, invite(CALL, 1, { sdp: GOIP_OFFER })),
      up(1_500, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_600, response(CALL, 486, 'Busy Here', '1 INVITE')),
      down(1_700, response(CALL, 486, 'Busy Here', '1 INVITE')),
      up(1_710, invite(CALL, 1, { sdp: GOIP_OFFER })),
    ],
    record: { outcome: 'busy', inviteTs: T0, setupDelayMs: 1_600, ref: { file: 0, frames: [1, 4] } },
    stats: { calls: 1, open: 0, retransmissions: 3, orphans: 0 },
  },
  {
    name: 'answered, no BYE, capture ends → unfinished, duration up to the last message',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(1_010, request(CALL, 'ACK', 1)),
      up(61_000, request(CALL, 'INFO', 2)),
    ],
    end: { flush: true },
    record: { outcome: 'unfinished', answerTs: T0 + 1_000, endTs: T0 + 61_000, durationMs: 60_000, finalStatus: 200 },
    absent: ['endedBy'],
    stats: { calls: 1, open: 0, timedOut: 0 },
  },
  {
    name: 'answered, no BYE for maxCallMs → unfinished by timeout',
    steps: [
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(1_010, request(CALL, 'ACK', 1)),
    ],
    end: { sweepAt: 1_000 + 3_600_000 },
    opts: { maxCallMs: 3_600_000 },
    record: { outcome: 'unfinished', endTs: T0 + 1_010, durationMs: 10 },
    stats: { calls: 1, timedOut: 1 },
  },
];

describe('CallTracker flows', () => {
  for (const f of flows) {
    it(f.name, () => {
      const r = run(f.steps, f.end, f.opts);
      expect(r.records).toHaveLength(1);
      const rec = r.records[0]!;
      expect(rec).toMatchObject(f.record);
      for (const k of f.absent ?? []) expect(rec[k], k).toBeUndefined();
      if (f.stats !== undefined) expect(r.tracker.stats).toMatchObject(f.stats);
    });
  }

  it('no final response → unfinished at the sweep inviteTimeoutMs after the last message (Timer C, §16.6 step 11)', () => {
    const r = run([
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(10, response(CALL, 100, 'Trying', '1 INVITE')),
      down(1_000, response(CALL, 180, 'Ringing', '1 INVITE')),
    ]);
    r.tracker.sweep(T0 + 1_000 + 179_000);
    expect(r.records).toHaveLength(0);
    expect(r.tracker.stats.open).toBe(1);
    r.tracker.sweep(T0 + 1_000 + 180_000);
    expect(r.records).toEqual([expect.objectContaining({ outcome: 'unfinished', ringingTs: T0 + 1_000, endTs: T0 + 1_000, setupDelayMs: 1_000 })]);
    expect(r.records[0]!.finalStatus).toBeUndefined();
    expect(r.tracker.stats).toMatchObject({ calls: 1, open: 0, timedOut: 1 });
  });

  it('sweep scans at most once per second of capture time', () => {
    const r = run([up(0, invite(CALL, 1))], {}, { inviteTimeoutMs: 10_000 });
    r.tracker.sweep(T0 + 9_500);
    r.tracker.sweep(T0 + 10_000); // within a second of the last scan: skipped
    expect(r.records).toHaveLength(0);
    r.tracker.sweep(T0 + 10_500);
    expect(r.records).toHaveLength(1);
  });

  it('re-INVITE with new SDP: no new call, reinvites counted, onMedia again (§14.1)', () => {
    const r = run([
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(1_010, request(CALL, 'ACK', 1)),
      down(5_000, request(CALL, 'INVITE', 8, { fromCallee: true, sdp: SS_REOFFER })),
      up(5_010, response(CALL, 200, 'OK', '8 INVITE', { sdp: GOIP_REANSWER })),
      down(5_020, request(CALL, 'ACK', 8, { fromCallee: true })),
      up(6_000, invite(CALL, 2, { sdp: GOIP_OFFER })),
      up(6_500, invite(CALL, 2, { sdp: GOIP_OFFER })),
      down(6_600, response(CALL, 200, 'OK', '2 INVITE', { sdp: SS_ANSWER })),
      up(20_000, request(CALL, 'BYE', 3)),
    ]);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]).toMatchObject({ outcome: 'answered', answerTs: T0 + 1_000, durationMs: 19_000, codec: 'PCMA', offeredCodecs: ['PCMA', 'PCMU', 'G729', 'G723'] });
    expect(r.tracker.stats).toMatchObject({ reinvites: 2, retransmissions: 1, orphans: 0 });
    expect(r.media.map((m) => `${m.ip}:${m.port}`)).toEqual([
      '192.168.1.30:10000', '192.0.2.20:30000', // offer, answer
      '192.0.2.21:30002', '192.168.1.30:10002', // the callee's re-INVITE and its 200
      '192.168.1.30:10000', '192.0.2.20:30000', // the caller's re-INVITE and its 200
    ]);
  });

  it('late offer: offer in the 2xx, answer in the ACK (§13.2.1)', () => {
    const r = run([
      up(0, invite(CALL, 1)),
      down(800, response(CALL, 180, 'Ringing', '1 INVITE')),
      down(3_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_LATE_OFFER })),
      up(3_010, request(CALL, 'ACK', 1, { sdp: GOIP_LATE_ANSWER })),
      up(8_000, request(CALL, 'BYE', 2)),
    ]);
    expect(r.records[0]).toMatchObject({ outcome: 'answered', offeredCodecs: ['PCMU', 'PCMA'], codec: 'PCMA', ptimeMs: 20 });
    expect(r.media).toEqual([
      {
        ip: '192.0.2.20', port: 30006, callId: CALL.callId, ptimeMs: 30, ts: T0 + 3_000,
        payloads: [{ pt: 0, codec: 'PCMU', clockRate: 8000 }, { pt: 8, codec: 'PCMA', clockRate: 8000 }, { pt: 101, codec: 'telephone-event', clockRate: 8000 }],
      },
      {
        ip: '192.168.1.30', port: 10004, callId: CALL.callId, ptimeMs: 20, ts: T0 + 3_010,
        payloads: [{ pt: 8, codec: 'PCMA', clockRate: 8000 }, { pt: 101, codec: 'telephone-event', clockRate: 8000 }],
      },
    ]);
  });

  it('onMedia: the offer\'s payloads with names and rates; hold (c=0.0.0.0) and port 0 announce nothing (RFC 3264 §6, §8.4)', () => {
    const r = run([
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      down(2_000, request(CALL, 'INVITE', 8, { fromCallee: true, sdp: HOLD })),
      down(3_000, request(CALL, 'UPDATE', 9, { fromCallee: true, sdp: VIDEO_REJECTED })),
    ]);
    expect(r.media[0]).toEqual({
      ip: '192.168.1.30', port: 10000, callId: CALL.callId, ptimeMs: 20, ts: T0,
      payloads: [
        { pt: 8, codec: 'PCMA', clockRate: 8000 }, { pt: 0, codec: 'PCMU', clockRate: 8000 }, { pt: 18, codec: 'G729', clockRate: 8000 },
        { pt: 4, codec: 'G723', clockRate: 8000 }, { pt: 101, codec: 'telephone-event', clockRate: 8000 },
      ],
    });
    expect(r.media.slice(2)).toEqual([
      { ip: '192.0.2.20', port: 30004, callId: CALL.callId, ts: T0 + 3_000, payloads: [{ pt: 0, codec: 'PCMU', clockRate: 8000 }, { pt: 96, codec: 'opus', clockRate: 48000 }] },
    ]);
    expect(r.tracker.stats.reinvites).toBe(1);
  });

  it('two legs with the same Call-ID through a proxy: one record each (§16.6: a proxy keeps the Call-ID)', () => {
    const UA1: Endpoint = { ip: '192.168.1.30', port: 5060 };
    const P: Endpoint = { ip: '192.0.2.10', port: 5060 };
    const UA2: Endpoint = { ip: '198.51.100.7', port: 5062 };
    const c = CALL;
    const r = run([
      [0, UA1, P, invite(c, 1, { sdp: GOIP_OFFER, ua: 'dble' })],
      [5, P, UA1, response(c, 100, 'Trying', '1 INVITE')],
      [6, P, UA2, invite(c, 1, { sdp: GOIP_OFFER, ua: 'Proxy' })],
      [200, UA2, P, response(c, 180, 'Ringing', '1 INVITE', { server: 'PhoneB' })],
      [205, P, UA1, response(c, 180, 'Ringing', '1 INVITE', { server: 'Proxy' })],
      [3_000, UA2, P, response(c, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER, server: 'PhoneB' })],
      [3_005, P, UA1, response(c, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER, server: 'Proxy' })],
      [3_010, UA1, P, request(c, 'ACK', 1)],
      [3_015, P, UA2, request(c, 'ACK', 1)],
      [10_000, UA2, P, request(c, 'BYE', 5, { fromCallee: true })],
      [10_005, P, UA1, request(c, 'BYE', 5, { fromCallee: true })],
      [10_010, UA1, P, response(c, 200, 'OK', '5 BYE')],
      [10_015, P, UA2, response(c, 200, 'OK', '5 BYE')],
    ]);
    expect(r.records).toHaveLength(2);
    const [b, a] = r.records; // leg B (proxy → UA2) gets its BYE first
    expect(a).toMatchObject({ uac: UA1, uas: P, ringingTs: T0 + 205, answerTs: T0 + 3_005, endTs: T0 + 10_005, endedBy: 'uas', uacAgent: 'dble', uasAgent: 'Proxy', ref: { frames: [1, 5, 7, 11] } });
    expect(b).toMatchObject({ uac: P, uas: UA2, ringingTs: T0 + 200, answerTs: T0 + 3_000, endTs: T0 + 10_000, endedBy: 'uas', uacAgent: 'Proxy', uasAgent: 'PhoneB', ref: { frames: [3, 4, 6, 10] } });
    expect(r.tracker.stats).toMatchObject({ calls: 2, open: 0, orphans: 0, retransmissions: 0 });
  });

  it('orphans: responses, BYE and CANCEL without their INVITE, and broken Call-ID/CSeq; other methods are ignored', () => {
    const other: CallSpec = { ...CALL, callId: 'never-seen@192.0.2.10' };
    const r = run([
      down(0, response(other, 200, 'OK', '1 INVITE')),
      down(1, response(other, 180, 'Ringing', '1 INVITE')),
      up(2, request(other, 'BYE', 2)),
      up(3, request(other, 'CANCEL', 1)),
      up(4, request(other, 'ACK', 1)), // an ACK alone is not an orphan
      down(5, response(other, 200, 'OK', '2 BYE')), // nor a response to a BYE
      up(6, invite(CALL, 1).replace(/Call-ID: .*\r\n/, '')),
      up(7, invite(CALL, 1).replace('CSeq: 1 INVITE', 'CSeq: one INVITE')),
      up(8, invite(CALL, 1).replace('CSeq: 1 INVITE', 'CSeq: 1 BYE')),
      down(9, response(CALL, 200, 'OK', '1 INVITE').replace(/CSeq: .*\r\n/, '')),
      // Not call methods: cheap to ignore, never orphans (RFC 3261 REGISTER/OPTIONS, RFC 3428 MESSAGE).
      up(10, message('REGISTER sip:192.0.2.10 SIP/2.0', [['Call-ID', 'r1'], ['CSeq', '1 REGISTER'], ['From', '<sip:8001@192.0.2.10>;tag=1'], ['To', '<sip:8001@192.0.2.10>']])),
      down(11, response({ ...CALL, callId: 'r1' }, 401, 'Unauthorized', '1 REGISTER')),
      down(12, message('OPTIONS sip:8001@192.168.1.30 SIP/2.0', [['Call-ID', 'o1'], ['CSeq', '1 OPTIONS']])),
      up(13, message('MESSAGE sip:8001@192.0.2.10 SIP/2.0', [['CSeq', 'x MESSAGE']])),
    ], { flush: true });
    expect(r.records).toEqual([]);
    expect(r.tracker.stats).toMatchObject({ orphans: 8, calls: 0, open: 0 });
  });

  it('stragglers of a closed call (BYE retransmission, 200 to BYE, late 2xx) are neither orphans nor calls', () => {
    const r = run([
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(1_010, request(CALL, 'ACK', 1)),
      up(9_000, request(CALL, 'BYE', 2)),
      up(9_500, request(CALL, 'BYE', 2)),
      down(9_510, response(CALL, 200, 'OK', '2 BYE')),
      down(9_520, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(9_530, request(CALL, 'ACK', 1)),
    ], { flush: true });
    expect(r.records).toHaveLength(1);
    expect(r.records[0]).toMatchObject({ outcome: 'answered', endTs: T0 + 9_000, durationMs: 8_000 });
    expect(r.tracker.stats).toMatchObject({ orphans: 0, calls: 1 });
  });

  it('open calls are capped: INVITEs beyond maxOpenCalls are counted in droppedAtCap, their responses are not orphans', () => {
    const r = tracker({ maxOpenCalls: 2 });
    let frame = 0;
    for (const id of ['a@gw', 'b@gw', 'c@gw']) r.tracker.observe(observation(up(0, invite(CALL, 1, { callId: id })), ++frame));
    r.tracker.observe(observation(up(500, invite(CALL, 1, { callId: 'c@gw' })), ++frame));
    r.tracker.observe(observation(down(800, response(CALL, 180, 'Ringing', '1 INVITE', { callId: 'c@gw' })), ++frame));
    expect(r.tracker.stats).toMatchObject({ open: 2, droppedAtCap: 1, orphans: 0, retransmissions: 0 });
    r.tracker.flush();
    expect(r.records.map((c) => c.callId)).toEqual(['a@gw', 'b@gw']);
  });

  it('snapshot copies open calls without closing them', () => {
    const r = run([
      up(0, invite(CALL, 1, { sdp: GOIP_OFFER })),
      down(1_000, response(CALL, 200, 'OK', '1 INVITE', { sdp: SS_ANSWER })),
      up(1_010, request(CALL, 'ACK', 1)),
    ]);
    const snap = r.tracker.snapshot();
    expect(snap).toEqual([expect.objectContaining({ outcome: 'unfinished', endTs: T0 + 1_010, durationMs: 10, answerTs: T0 + 1_000 })]);
    snap[0]!.ref.frames.push(99);
    expect(r.records).toHaveLength(0);
    expect(r.tracker.stats.open).toBe(1);
    r.tracker.observe(observation(up(5_000, request(CALL, 'BYE', 2)), 4));
    expect(r.records).toEqual([expect.objectContaining({ outcome: 'answered', durationMs: 4_000, ref: { file: 0, frames: [1, 2, 4] } })]);
    expect(r.tracker.snapshot()).toEqual([]);
  });

  it('long header values are capped in records', () => {
    const longId = `${'x'.repeat(300)}@gw`;
    const r = run([up(0, invite(CALL, 1, { callId: longId, ua: 'U'.repeat(500) })), down(10, response(CALL, 603, 'Decline', '1 INVITE', { callId: longId, server: 'S'.repeat(500) }))]);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]).toMatchObject({ outcome: 'rejected', finalStatus: 603 });
    expect(r.records[0]!.callId.length).toBe(128);
    expect(r.records[0]!.uacAgent!.length).toBe(128);
    expect(r.records[0]!.uasAgent!.length).toBe(128);
  });
});

describe('CallTracker on untrusted order', () => {
  it('every flow\'s messages shuffled, duplicated and mixed never throw and leave nothing open after flush', () => {
    const all = flows.flatMap((f, i) => f.steps.map(([t, src, dst, text]): Step => [t, src, dst, text.replaceAll(CALL.callId, `${i}@gw`)]));
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = seededRandom(seed);
      const r = tracker({ maxOpenCalls: 5 });
      for (let n = 0; n < 300; n++) {
        const step = all[Math.floor(rnd() * all.length)]!;
        r.tracker.observe(observation([n * 1_000, step[1], step[2], step[3]], n + 1));
        if (n % 10 === 0) r.tracker.sweep(T0 + n * 1_000);
        expect(r.tracker.stats.open).toBeLessThanOrEqual(5);
      }
      r.tracker.flush();
      expect(r.tracker.stats.open).toBe(0);
      expect(r.tracker.snapshot()).toEqual([]);
      expect(r.records).toHaveLength(r.tracker.stats.calls);
      for (const c of r.records) {
        expect(c.ref.frames.length).toBeLessThanOrEqual(8);
        expect(c.endTs).toBeGreaterThanOrEqual(c.inviteTs);
      }
    }
  });
});

// ───────────────────────────── URIs ─────────────────────────────

describe('uriUser', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['"Alice" <sip:alice@atlanta.com>;tag=1928301774', 'alice', 'RFC 3261 §24.2 From'],
    ['Bob <sips:bob@biloxi.example.com;transport=tls>', 'bob', 'sips, URI parameters inside <>'],
    ['sip:alice:secretword@atlanta.com;transport=tcp', 'alice', 'RFC 3261 §19.1.3: password dropped'],
    ['sip:+1-212-555-1212:1234@gateway.com;user=phone', '+1-212-555-1212', 'RFC 3261 §19.1.3 ;user=phone'],
    ['sip:+358-555-1234567;postd=pp22@foo.com;user=phone', '+358-555-1234567', 'RFC 3261 §19.1.3: telephone-subscriber parameters cut'],
    ['<tel:+86-138-1234-5678>;tag=8', '+86-138-1234-5678', 'RFC 3966 §3 global number'],
    ['tel:7042;phone-context=example.com', '7042', 'RFC 3966 §7 local number'],
    ['sip:%2B8613812345678@192.0.2.10', '+8613812345678', 'percent-encoded +'],
    ['<sip:%E5%BC%A0%E4%B8%89@example.com>', '张三', 'percent-encoded UTF-8'],
    ['<sip:a%zz@example.com>', 'a%zz', 'broken escape kept'],
    ['"a<b \\" c" <sip:x%20y@h>', 'x y', 'quoted display name with < and an escaped quote'],
    ['"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', 'anonymous', 'RFC 3323 §4.1.1.3'],
    ['SIP:8001@192.0.2.10', '8001', 'scheme is case-insensitive'],
    ['sip:8001@192.0.2.10;tag=1', '8001', 'addr-spec with a header parameter'],
    ['sip:registrar.biloxi.com', undefined, 'no user part'],
    ['<mailto:a@b.example>', undefined, 'not SIP/TEL'],
    ['"unterminated <sip:a@b>', undefined, 'quote never closed'],
    ['<sip:a@b', undefined, '> missing'],
    ['', undefined, 'empty'],
    [`sip:${'9'.repeat(100)}@h`, '9'.repeat(64), 'capped at 64'],
  ];
  it.each(cases)('%s → %s (%s)', (value, expected) => {
    expect(uriUser(value)).toBe(expected);
  });
});

describe('phoneDigits', () => {
  const cases: Array<[string, string | undefined]> = [
    ['8613812345678', '8613812345678'],
    ['13812345678', '13812345678'],
    ['+8613812345678', '+8613812345678'],
    ['+86-138-1234-5678', '+8613812345678'], // RFC 3966 §5.1.1 visual separators
    ['+86 138 1234 5678', '+8613812345678'],
    ['(010) 8888.1234', '01088881234'],
    ['8001', '8001'],
    ['alice', undefined],
    ['12ab', undefined],
    ['', undefined],
    ['+', undefined],
    ['++86', undefined],
    ['86+138', undefined],
    ['*86', undefined],
    ['#31#13812345678', undefined],
    ['-.()', undefined],
  ];
  it.each(cases)('%s → %s', (user, expected) => {
    expect(phoneDigits(user)).toBe(expected);
  });

  it('callee: the Request-URI user when phone-like, else the To user', () => {
    const spec: CallSpec = { ...CALL, ruri: 'sip:gw-trunk@192.0.2.10', to: '"Bob" <tel:+86-138-1234-5678>' };
    const r = run([up(0, invite(spec, 1)), down(5, response(spec, 404, 'Not Found', '1 INVITE'))]);
    expect(r.records[0]).toMatchObject({ requestUser: 'gw-trunk', toUser: '+86-138-1234-5678', callee: '+8613812345678', requestHostPort: '192.0.2.10', outcome: 'rejected' });
  });
});

// ───────────────────────────── a real capture ─────────────────────────────

const root = resolve(import.meta.dirname, '../../..');
const PBX = join(root, 'fixtures', 'negative-pbx-trunk.pcap');

function tshark(args: string[]): string {
  return execFileSync('tshark', ['-r', PBX, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

let hasTshark = true;
try {
  execFileSync('tshark', ['--version'], { stdio: 'ignore' });
} catch {
  hasTshark = false;
}

describe('fixtures/negative-pbx-trunk.pcap (sipp: 24 REGISTERs, 2 answered PCMA calls)', () => {
  it.skipIf(!hasTshark)('gives the calls tshark sees', async () => {
    const r = tracker();
    const pipeline = new CapturePipeline((o) => {
      if (o.kind === 'sip') {
        r.tracker.sweep(o.ts);
        r.tracker.observe(o);
      }
    });
    pipeline.beginFile(0);
    await readCaptureFile(PBX, (f) => pipeline.frame(f));
    pipeline.endFile();
    r.tracker.flush();

    // tshark: INVITE frames, their 200s and the BYEs, by Call-ID.
    const fields = ['frame.number', 'frame.time_epoch', 'sip.Call-ID', 'ip.src', 'udp.srcport', 'ip.dst', 'sip.from.user', 'sip.r-uri.user'];
    const rows = (filter: string): string[][] =>
      tshark(['-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])])
        .trim().split('\n').map((l) => l.split('\t'));
    const invites = rows('sip.Method == "INVITE"');
    const oks = rows('sip.Status-Code == 200 && sip.CSeq.method == "INVITE"');
    const byes = rows('sip.Method == "BYE"');
    const stat = tshark(['-q', '-z', 'sip,stat']);
    expect(stat).toMatch(/INVITE\s+:\s+2 Packets/);
    expect(stat).toMatch(/Number of resent SIP messages: 0/);
    const minSetup = Number(/Min (\d+) ms/.exec(stat)?.[1]);
    const maxSetup = Number(/Max (\d+) ms/.exec(stat)?.[1]);

    expect(r.records).toHaveLength(invites.length);
    expect(r.tracker.stats).toMatchObject({ calls: 2, open: 0, orphans: 0, retransmissions: 0, droppedAtCap: 0, timedOut: 0 });
    for (const [i, inv] of invites.entries()) {
      const rec = r.records[i]!;
      const [frame, epoch, callId, srcIp, srcPort, dstIp, fromUser, ruriUser] = inv;
      const ok = oks.find((row) => row[2] === callId)!;
      const bye = byes.find((row) => row[2] === callId)!;
      expect(rec.callId).toBe(callId);
      expect(rec.uac).toEqual({ ip: srcIp, port: Number(srcPort), mac: '00:25:90:00:0d:01' });
      expect(rec.uas.ip).toBe(dstIp);
      expect(rec.ref.frames[0]).toBe(Number(frame));
      expect(rec.ref.frames).toContain(Number(ok[0]));
      expect(rec.ref.frames.at(-1)).toBe(Number(bye[0]));
      expect(Math.abs(rec.inviteTs - Number(epoch) * 1000)).toBeLessThan(1);
      expect(Math.abs(rec.answerTs! - Number(ok[1]) * 1000)).toBeLessThan(1);
      expect(Math.abs(rec.endTs - Number(bye[1]) * 1000)).toBeLessThan(1);
      // tshark's "setup time" is INVITE → 200 OK, in whole ms.
      const setup = rec.answerTs! - rec.inviteTs;
      expect(setup).toBeGreaterThanOrEqual(minSetup);
      expect(setup).toBeLessThan(maxSetup + 1);
      expect(rec).toMatchObject({
        outcome: 'answered', finalStatus: 200, endedBy: 'uac', caller: fromUser, callee: ruriUser, requestUser: ruriUser,
        offeredCodecs: ['PCMA', 'PCMU'], codec: 'PCMA', ptimeMs: 20,
        uacAgent: 'Asterisk PBX 18.20.0', uasAgent: 'Kamailio (5.7.2 (x86_64/linux))',
      });
    }
    // Each call announces the caller's and the callee's media address (tshark: c= and m= of INVITE and 200).
    const sdp = tshark(['-Y', 'sdp', '-T', 'fields', '-e', 'sdp.connection_info.address', '-e', 'sdp.media.port']).trim().split('\n').map((l) => l.replace('\t', ':'));
    expect(r.media.map((m) => `${m.ip}:${m.port}`)).toEqual(sdp);
  });
});
