/**
 * Per-device behaviour features and the sim-farm score.
 *
 * The reference profiles below are SYNTHETIC: CallRecords drawn from a seeded PRNG with the
 * shapes the issue describes (fraud SIM farm / GSM gateway; office PBX trunk, call centre,
 * household, carrier SIP trunk as hard negatives). They test the features and the defaults against
 * those descriptions, not against real traffic; real fixtures (sipp captures) are tested
 * separately by the lead. Phone numbers are made up in the ranges of number-ranges.json.
 */
import { seededRandom } from '../../helpers/random.js';
import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { DeviceBehaviour, hostPort, matchLines, parseContact } from '../../../src/behaviour/features.js';
import { defaultBehaviourConfig } from '../../../src/behaviour/defaults.js';
import { featureNames, type BehaviourConfig, type BehaviourProfile, type CallOutcome, type CallRecord, type FeatureName, type FeatureResult, type RtpStreamStats } from '../../../src/behaviour/types.js';
import type { Endpoint } from '../../../src/protocols/types.js';

const cfg = defaultBehaviourConfig();
const S = 1000;
const H = 3_600_000;

// ───────────────────────────── generator ─────────────────────────────

interface Reg { aor: string; contact?: string; port?: number; ts: number }
interface Traffic { calls: Array<{ call: CallRecord; role: 'uac' | 'uas' }>; regs: Reg[] }

class Gen {
  private r: () => number;
  private seq = 0;
  private frame = 1;
  constructor(seed: number) {
    this.r = seededRandom(seed);
  }
  uni(a: number, b: number): number {
    return a + (b - a) * this.r();
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.r() * 10);
    return s;
  }
  mobile(): string {
    return this.pick(['138', '139', '135', '136', '150', '158', '186', '185', '133', '189', '177', '199', '152', '187']) + this.digits(8);
  }
  landline(): string {
    return this.pick(['010', '021', '0755', '0571']) + this.digits(8);
  }
  international(): string {
    return this.pick(['+44', '+1', '+49', '+81']) + this.digits(10);
  }
  /** Poisson inter-arrival time for `perHour` arrivals an hour. */
  exp(perHour: number): number {
    return (-Math.log(1 - this.r()) / perHour) * H;
  }
  call(s: {
    uac: Endpoint; uas: Endpoint; invite: number; outcome: CallOutcome; ringMs: number; talkMs?: number; codec: string;
    caller?: string; callee?: string; requestUser?: string; toUser?: string; requestHostPort?: string;
  }): CallRecord {
    const answered = s.outcome === 'answered';
    const answerTs = answered ? s.invite + s.ringMs : undefined;
    const endTs = answered ? s.invite + s.ringMs + (s.talkMs ?? 0) : s.invite + s.ringMs;
    const status: Partial<Record<CallOutcome, number>> = { answered: 200, busy: 486, 'no-answer': 480, rejected: 503 };
    const c: CallRecord = {
      callId: `c${++this.seq}@gen`, uac: s.uac, uas: s.uas, inviteTs: s.invite, endTs, outcome: s.outcome,
      offeredCodecs: [s.codec], codec: s.codec, ref: { file: 0, frames: [this.frame++, this.frame++] },
    };
    if (s.outcome !== 'busy' && s.outcome !== 'rejected') c.ringingTs = s.invite + Math.min(s.ringMs, 1500);
    if (answerTs !== undefined) {
      c.answerTs = answerTs;
      c.durationMs = endTs - answerTs;
    }
    if (status[s.outcome] !== undefined) c.finalStatus = status[s.outcome];
    if (s.caller !== undefined) c.caller = s.caller;
    if (s.callee !== undefined) c.callee = s.callee;
    if (s.requestUser !== undefined) c.requestUser = s.requestUser;
    if (s.toUser !== undefined) c.toUser = s.toUser;
    if (s.requestHostPort !== undefined) c.requestHostPort = s.requestHostPort;
    return c;
  }
  /** An attempt that failed: busy, no answer or rejected, with a plausible ringing time. */
  failure(): { outcome: CallOutcome; ringMs: number } {
    const x = this.r();
    if (x < 0.35) return { outcome: 'busy', ringMs: this.uni(0.8, 3) * S };
    if (x < 0.75) return { outcome: 'no-answer', ringMs: this.uni(15, 40) * S };
    return { outcome: 'rejected', ringMs: this.uni(0.5, 5) * S };
  }
}

function byEnd(t: Traffic): Traffic {
  t.calls.sort((a, b) => a.call.endTs - b.call.endTs);
  return t;
}

/**
 * A fraud SIM farm / GSM gateway terminating bypass traffic (it is the UAS of every INVITE):
 * each line carries one call at a time back to back, ASR `asr`, 10-60 s answered calls, ~95 %
 * mainland-China mobile callees. With `fake`, every 15 min the even lines call the next line's SIM
 * for exactly ~30 s (scripted fake usage); with `hairpin`, that GSM call comes back in on the
 * called line as an INVITE the gateway originates. No User-Agent anywhere, no SMS traffic.
 */
function fraudGateway(o: {
  seed: number; lines: number; hours: number; asr: number; codecs: string[];
  users: 'msisdn' | 'account'; fake: boolean; hairpin: boolean;
}): Traffic {
  const g = new Gen(o.seed);
  const dev = '10.0.0.5';
  const srv: Endpoint = { ip: '203.0.113.10', port: 5060 };
  const sims = Array.from({ length: o.lines }, () => g.mobile());
  const line = (i: number) => {
    const user = o.users === 'msisdn' ? sims[i]! : `goip${String(i + 1).padStart(2, '0')}`;
    const port = o.users === 'msisdn' ? 5061 + i : 5060;
    return { user, port, ep: { ip: dev, port } };
  };
  const regs: Reg[] = [];
  for (let i = 0; i < o.lines; i++) {
    const l = line(i);
    regs.push({ aor: `sip:${l.user}@203.0.113.10`, contact: `<sip:${l.user}@${dev}:${l.port}>;expires=60`, port: l.port, ts: i * 100 });
  }
  const end = o.hours * H;
  const slotEvery = 900 * S;
  const slotLen = 90 * S;
  const slots: number[] = [];
  if (o.fake) for (let s = 300 * S; s < end; s += slotEvery) slots.push(s);
  const calls: Traffic['calls'] = [];
  for (let i = 0; i < o.lines; i++) {
    const l = line(i);
    let t = g.uni(0, 60) * S;
    while (t < end) {
      const ans = g.chance(o.asr);
      const f = ans ? { outcome: 'answered' as CallOutcome, ringMs: g.uni(3, 12) * S } : g.failure();
      const talk = ans ? g.uni(10, 60) * S : 0;
      const len = f.ringMs + talk;
      const slot = slots.find((s) => t < s + slotLen && t + len + S > s);
      if (slot !== undefined) {
        t = slot + slotLen + g.uni(1, 20) * S;
        continue;
      }
      const callee = g.chance(0.95) ? g.mobile() : g.landline();
      calls.push({
        role: 'uas',
        call: g.call({
          uac: srv, uas: l.ep, invite: t, ...f, talkMs: talk, codec: g.pick(o.codecs), caller: g.pick(['8613800000000', '2000', 'anonymous']),
          callee, requestUser: o.users === 'msisdn' ? callee : l.user, toUser: callee, requestHostPort: `${dev}:${l.port}`,
        }),
      });
      t += len + g.uni(5, 60) * S;
    }
  }
  for (const s of slots) {
    for (let i = 0; i + 1 < o.lines; i += 2) {
      const a = line(i);
      const b = line(i + 1);
      const invite = s + 5 * S + g.uni(0, 400);
      const ring = g.uni(5.8, 6.2) * S;
      const talk = g.uni(29.7, 30.3) * S;
      const out = g.call({
        uac: srv, uas: a.ep, invite, outcome: 'answered', ringMs: ring, talkMs: talk, codec: o.codecs[0]!, caller: '2000',
        callee: sims[i + 1], requestUser: o.users === 'msisdn' ? sims[i + 1] : a.user, toUser: sims[i + 1], requestHostPort: `${dev}:${a.port}`,
      });
      calls.push({ role: 'uas', call: out });
      if (o.hairpin) {
        const inviteIn = invite + 4 * S;
        calls.push({
          role: 'uac',
          call: g.call({
            uac: b.ep, uas: srv, invite: inviteIn, outcome: 'answered', ringMs: out.answerTs! - 200 - inviteIn,
            talkMs: out.endTs + 400 - (out.answerTs! - 200), codec: o.codecs[0]!, caller: b.user, callee: '8000', requestUser: '8000',
            requestHostPort: '203.0.113.10:5060',
          }),
        });
      }
    }
  }
  return byEnd({ calls, regs });
}

/** Office PBX trunk: 2 DID accounts, ~10 calls at once both ways, ASR ~70 %, 45-300 s, ~40 % mobile outbound, G.711. */
function officePbx(seed: number, hours = 2): Traffic {
  const g = new Gen(seed);
  const pbx = { ip: '10.0.1.10', port: 5060 };
  const carrier = { ip: '198.51.100.1', port: 5060 };
  const dids = ['02787654321', '02787654322'];
  const regs: Reg[] = dids.map((d, i) => ({ aor: `sip:${d}@198.51.100.1`, contact: `<sip:${d}@10.0.1.10:5060>`, port: 5060, ts: i }));
  const calls: Traffic['calls'] = [];
  for (let t = g.exp(283); t < hours * H; t += g.exp(283)) {
    const did = g.pick(dids);
    const ans = g.chance(0.7);
    const f = ans ? { outcome: 'answered' as CallOutcome, ringMs: g.uni(3, 20) * S } : g.failure();
    const talk = ans ? g.uni(45, 300) * S : 0;
    const codec = g.pick(['PCMA', 'PCMU']);
    if (g.chance(0.5)) {
      const callee = g.chance(0.4) ? g.mobile() : g.landline();
      calls.push({ role: 'uac', call: g.call({ uac: pbx, uas: carrier, invite: t, ...f, talkMs: talk, codec, caller: did, callee, requestUser: callee, requestHostPort: '198.51.100.1:5060' }) });
    } else {
      const caller = g.chance(0.5) ? g.mobile() : g.landline();
      calls.push({ role: 'uas', call: g.call({ uac: carrier, uas: pbx, invite: t, ...f, talkMs: talk, codec, caller, callee: did, requestUser: did, requestHostPort: '10.0.1.10:5060' }) });
    }
  }
  return byEnd({ calls, regs });
}

/** Call centre: 26 agent lines on one host, one call per agent, 90 % outbound, ASR ~55 %, 60-300 s, ~60 % mobile, G.711/G.722, random wrap-up. */
function callCentre(seed: number, hours = 2): Traffic {
  const g = new Gen(seed);
  const host = '10.0.2.20';
  const pbx = { ip: '10.0.2.1', port: 5060 };
  const company = '075523456789';
  const regs: Reg[] = [];
  const calls: Traffic['calls'] = [];
  for (let i = 0; i < 26; i++) {
    const port = 5070 + i;
    const user = `agent${i + 1}`;
    const ep = { ip: host, port };
    regs.push({ aor: `sip:${user}@cc.example`, contact: `<sip:${user}@${host}:${port}>`, port, ts: i });
    let t = g.uni(0, 120) * S;
    while (t < hours * H) {
      const codec = g.pick(['PCMU', 'G722']);
      let len: number;
      if (g.chance(0.1)) {
        const ring = g.uni(2, 8) * S;
        const talk = g.uni(60, 300) * S;
        len = ring + talk;
        calls.push({ role: 'uas', call: g.call({ uac: pbx, uas: ep, invite: t, outcome: 'answered', ringMs: ring, talkMs: talk, codec, caller: g.mobile(), callee: company, requestUser: user, toUser: company, requestHostPort: `${host}:${port}` }) });
      } else {
        const ans = g.chance(0.52);
        const f = ans ? { outcome: 'answered' as CallOutcome, ringMs: g.uni(5, 25) * S } : g.failure();
        const talk = ans ? g.uni(60, 300) * S : 0;
        len = f.ringMs + talk;
        const callee = g.chance(0.6) ? g.mobile() : g.landline();
        calls.push({ role: 'uac', call: g.call({ uac: ep, uas: pbx, invite: t, ...f, talkMs: talk, codec, caller: company, callee, requestUser: callee, requestHostPort: '10.0.2.1:5060' }) });
      }
      t += len + 10 * S + g.exp(60);
    }
  }
  return byEnd({ calls, regs });
}

/** Household: two softphones behind one address, a handful of calls in a day. */
function household(seed: number): Traffic {
  const g = new Gen(seed);
  const home = '192.168.1.20';
  const prov = { ip: '198.51.100.7', port: 5060 };
  const regs: Reg[] = [
    { aor: 'sip:alice@voip.example', contact: `<sip:alice@${home}:5060>`, port: 5060, ts: 0 },
    { aor: 'sip:bob@voip.example', contact: `<sip:bob@${home}:5062>`, port: 5062, ts: 0 },
  ];
  const calls: Traffic['calls'] = [];
  for (let k = 0; k < 6; k++) {
    const t = g.uni(0, 24) * H;
    const port = g.pick([5060, 5062]);
    calls.push({ role: 'uac', call: g.call({ uac: { ip: home, port }, uas: prov, invite: t, outcome: 'answered', ringMs: 8 * S, talkMs: g.uni(60, 900) * S, codec: 'OPUS', caller: port === 5060 ? 'alice' : 'bob', callee: g.mobile() }) });
  }
  return byEnd({ calls, regs });
}

/** Carrier SIP trunk (SBC): no REGISTER, 20-40 calls at once on one address, both ways, ASR ~60 %, mixed destinations, G.711. */
function carrierTrunk(seed: number, hours = 2): Traffic {
  const g = new Gen(seed);
  const sbc = { ip: '198.51.100.50', port: 5060 };
  const cust = { ip: '10.0.3.3', port: 5060 };
  const calls: Traffic['calls'] = [];
  for (let t = g.exp(1000); t < hours * H; t += g.exp(1000)) {
    const ans = g.chance(0.6);
    const f = ans ? { outcome: 'answered' as CallOutcome, ringMs: g.uni(3, 20) * S } : g.failure();
    const talk = ans ? g.uni(20, 300) * S : 0;
    const x = g.uni(0, 1);
    const num = x < 0.3 ? g.mobile() : x < 0.8 ? g.landline() : g.international();
    const codec = g.pick(['PCMA', 'PCMU']);
    if (g.chance(0.5)) calls.push({ role: 'uac', call: g.call({ uac: sbc, uas: cust, invite: t, ...f, talkMs: talk, codec, caller: g.landline(), callee: num, requestUser: num, requestHostPort: '10.0.3.3:5060' }) });
    else calls.push({ role: 'uas', call: g.call({ uac: cust, uas: sbc, invite: t, ...f, talkMs: talk, codec, caller: g.landline(), callee: num, requestUser: num, requestHostPort: '198.51.100.50:5060' }) });
  }
  return byEnd({ calls, regs: [] });
}

function device(t: Traffic, key = 'ip:dut', limits: BehaviourConfig['limits'] = cfg.limits): DeviceBehaviour {
  const d = new DeviceBehaviour(key, limits);
  for (const r of t.regs) d.addRegistration(r.aor, r.contact, r.port, r.ts, { file: 0, frames: [1] });
  for (const { call, role } of t.calls) d.addCall(call, role);
  return d;
}

function feature(p: BehaviourProfile, name: FeatureName): FeatureResult {
  return p.features.find((f) => f.name === name)!;
}

function firedNames(p: BehaviourProfile): FeatureName[] {
  return p.features.filter((f) => f.fired).map((f) => f.name);
}

// ───────────────────────────── reference profiles ─────────────────────────────

describe('reference profiles (synthetic, from the issue)', () => {
  const profiles = {
    fraud8: device(fraudGateway({ seed: 8, lines: 8, hours: 2, asr: 0.25, codecs: ['G729'], users: 'msisdn', fake: true, hairpin: false })).profile(cfg),
    fraud32: device(fraudGateway({ seed: 32, lines: 32, hours: 2, asr: 0.2, codecs: ['G729', 'GSM', 'AMR'], users: 'account', fake: true, hairpin: true })).profile(cfg),
    fraudPlain: device(fraudGateway({ seed: 9, lines: 8, hours: 2, asr: 0.35, codecs: ['PCMA'], users: 'msisdn', fake: false, hairpin: false })).profile(cfg),
    office: device(officePbx(1)).profile(cfg),
    callCentre: device(callCentre(2)).profile(cfg),
    household: device(household(3)).profile(cfg),
    carrier: device(carrierTrunk(4)).profile(cfg),
  };

  it('an 8-line gateway with hidden User-Agent crosses the threshold with the gateway features', () => {
    const p = profiles.fraud8;
    expect(p.eligible).toBe(true);
    expect(p.simFarm).toBe(true);
    expect(p.score).toBeGreaterThanOrEqual(0.9);
    expect(firedNames(p)).toEqual(expect.arrayContaining([
      'lines', 'concurrency', 'lineSaturation', 'attemptRate', 'answerRatio', 'callDuration', 'mobileShare', 'lowBitrateCodec', 'oneWay',
      'fixedDurations', 'fixedIntervals', 'ownNumbers',
    ]));
    expect(feature(p, 'lineSaturation').explain).toMatch(/^8 of 8 lines never carried two calls at once while up to \d+ calls ran/);
    expect(feature(p, 'ownNumbers').explain).toMatch(/^4 own number\(s\) called from another of its lines/);
    expect(p.calls.length).toBeGreaterThan(0);
    expect(p.calls.length).toBeLessThanOrEqual(10);
    // Robotic calls are shown first.
    expect(p.calls[0]!.durationMs).toBeGreaterThan(29_000);
    expect(p.calls[0]!.durationMs).toBeLessThan(31_000);
  });

  it('a 32-line gateway (account-named lines, one SIP port, hairpinned fake usage) crosses it too', () => {
    const p = profiles.fraud32;
    expect(p.simFarm).toBe(true);
    expect(p.score).toBeGreaterThanOrEqual(0.9);
    expect(p.counters.registeredLines).toBe(32);
    expect(firedNames(p)).toEqual(expect.arrayContaining([
      'lines', 'concurrency', 'lineSaturation', 'attemptRate', 'answerRatio', 'callDuration', 'mobileShare', 'lowBitrateCodec', 'oneWay',
      'fixedDurations', 'fixedIntervals', 'ownNumbers',
    ]));
    expect(feature(p, 'ownNumbers').explain).toMatch(/\d+ hairpin\(s\)/);
    expect(feature(p, 'attemptRate').value!).toBeGreaterThanOrEqual(40);
    expect(feature(p, 'attemptRate').value!).toBeLessThanOrEqual(100);
  });

  it('a gateway with G.711 and no scripted calls still crosses it on SIP behaviour alone', () => {
    const p = profiles.fraudPlain;
    expect(p.simFarm).toBe(true);
    expect(firedNames(p)).not.toContain('lowBitrateCodec');
    expect(firedNames(p)).not.toContain('fixedDurations');
  });

  it.each(['office', 'callCentre', 'carrier'] as const)('the %s stays below the threshold with its reasons visible', (name) => {
    const p = profiles[name];
    expect(p.eligible).toBe(true);
    expect(p.simFarm).toBe(false);
    expect(p.score).toBeLessThan(cfg.threshold);
    for (const f of p.features) expect(f.explain.length, f.name).toBeGreaterThan(5);
  });

  it('the office trunk is busy but not channelised, answered, long and G.711', () => {
    const p = profiles.office;
    expect(firedNames(p)).not.toContain('lines');
    expect(feature(p, 'lineSaturation').value).toBeNull();
    expect(feature(p, 'lineSaturation').explain).toMatch(/only 2 line\(s\) carried two or more calls/);
    expect(feature(p, 'answerRatio').fired).toBe(false);
    expect(feature(p, 'callDuration').fired).toBe(false);
    expect(feature(p, 'mobileShare').fired).toBe(false);
    expect(feature(p, 'oneWay').fired).toBe(false);
    expect(feature(p, 'ownNumbers').fired).toBe(false);
    expect(p.counters.concurrentMax).toBeGreaterThanOrEqual(10);
  });

  it('the call centre shows the line structure of a gateway but not its traffic', () => {
    const p = profiles.callCentre;
    expect(firedNames(p)).toEqual(expect.arrayContaining(['lines', 'concurrency', 'lineSaturation']));
    for (const n of ['attemptRate', 'answerRatio', 'callDuration', 'mobileShare', 'lowBitrateCodec', 'oneWay', 'fixedDurations', 'fixedIntervals', 'ownNumbers'] as const) {
      expect(feature(p, n).fired, `${n}: ${feature(p, n).explain}`).toBe(false);
    }
  });

  it('the carrier trunk has no lines and overlaps itself on one address', () => {
    const p = profiles.carrier;
    expect(feature(p, 'lines').value).toBe(0);
    expect(feature(p, 'lines').explain).toBe('no REGISTER seen from this device');
    expect(feature(p, 'lineSaturation').fired).toBe(false);
    expect(p.counters.concurrentMax).toBeGreaterThanOrEqual(20);
    expect(feature(p, 'attemptRate').fired).toBe(false);
  });

  it('the household is not scored, and says why', () => {
    const p = profiles.household;
    expect(p.eligible).toBe(false);
    expect(p.score).toBe(0);
    expect(p.reason).toMatch(/only 6 call attempt\(s\) \(needs 20\)/);
    expect(p.features.map((f) => f.name)).toHaveLength(14);
    expect(p.features.every((f) => !f.fired && f.value === null)).toBe(true);
  });

  it('lists every feature once, in featureNames order, with ≤ 8 refs each', () => {
    for (const p of Object.values(profiles)) {
      expect(p.features.map((f) => f.name)).toEqual([...featureNames]);
      for (const f of p.features) expect(f.refs.length).toBeLessThanOrEqual(8);
    }
  });
});

// ───────────────────────────── features one by one ─────────────────────────────

const DEV = '10.9.9.9';
const SRV: Endpoint = { ip: '203.0.113.99', port: 5060 };
let seq = 0;

/** One call of the device under test: 'in' = terminated on it (it is the UAS), 'out' = originated. */
function sc(o: {
  invite: number; dir?: 'in' | 'out'; outcome?: CallOutcome; ring?: number; talk?: number; port?: number;
  caller?: string; callee?: string; requestUser?: string; codec?: string | null;
}): { call: CallRecord; role: 'uac' | 'uas' } {
  const dir = o.dir ?? 'in';
  const outcome = o.outcome ?? 'answered';
  const ring = o.ring ?? 5 * S;
  const dev: Endpoint = { ip: DEV, port: o.port ?? 5060 };
  const c: CallRecord = {
    callId: `t${++seq}`, uac: dir === 'in' ? SRV : dev, uas: dir === 'in' ? dev : SRV, inviteTs: o.invite,
    endTs: o.invite + ring + (outcome === 'answered' || (outcome === 'unfinished' && o.talk !== undefined) ? (o.talk ?? 30 * S) : 0),
    outcome, offeredCodecs: o.codec === null ? [] : [o.codec ?? 'PCMA'], ref: { file: 1, frames: [seq] },
  };
  if (o.codec !== null) c.codec = o.codec ?? 'PCMA';
  if (outcome === 'answered' || (outcome === 'unfinished' && o.talk !== undefined)) {
    c.answerTs = o.invite + ring;
    c.durationMs = c.endTs - c.answerTs;
  }
  if (o.caller !== undefined) c.caller = o.caller;
  if (o.callee !== undefined) c.callee = o.callee;
  c.requestUser = o.requestUser ?? o.callee;
  if (dir === 'in') c.requestHostPort = `${DEV}:${o.port ?? 5060}`;
  return { call: c, role: dir === 'in' ? 'uas' : 'uac' };
}

function dev(calls: Array<{ call: CallRecord; role: 'uac' | 'uas' }>, limits = cfg.limits): DeviceBehaviour {
  const d = new DeviceBehaviour('ip:10.9.9.9', limits);
  for (const c of calls) d.addCall(c.call, c.role);
  return d;
}

/** n calls spaced `every` ms apart on one port, with a per-call override. */
function series(n: number, every: number, f: (i: number) => Partial<Parameters<typeof sc>[0]> = () => ({})) {
  return Array.from({ length: n }, (_, i) => sc({ invite: i * every, ...f(i) }));
}

describe('eligibility', () => {
  it('scores a device from minCalls attempts, not before', () => {
    expect(dev(series(19, 60 * S)).profile(cfg).eligible).toBe(false);
    expect(dev(series(20, 60 * S)).profile(cfg).eligible).toBe(true);
  });

  it('scores SIM and SMS facts without calls, leaving the call features unmeasured', () => {
    const d = new DeviceBehaviour('ip:x', cfg.limits);
    d.addSim('1', '460001234567890', 0, { file: 0, frames: [1] });
    const p = d.profile(cfg);
    expect(p.eligible).toBe(true);
    expect(feature(p, 'simRotation').value).toBe(1);
    expect(feature(p, 'lines').value).toBeNull();
    expect(feature(p, 'lines').explain).toBe('only 0 call attempt(s); call behaviour is measured from 20');
  });
});

describe('lines', () => {
  const regs = (n: number) => Array.from({ length: n }, (_, i) => ({ aor: `sip:line${i}@srv`, contact: `<sip:line${i}@${DEV}:${5061 + i}>`, port: 5061 + i }));
  it.each([[7, false], [8, true]] as const)('%i registered lines fire: %s', (n, want) => {
    const d = dev(series(20, 60 * S));
    for (const r of regs(n)) {
      d.addRegistration(r.aor, r.contact, r.port, 0, { file: 0, frames: [1] });
      d.addRegistration(r.aor, r.contact, r.port, 60 * S, { file: 0, frames: [2] }); // a refresh is the same line
    }
    const f = feature(d.profile(cfg), 'lines');
    expect(f.value).toBe(n);
    expect(f.fired).toBe(want);
    expect(d.size().lines).toBe(n);
  });

  it('keeps at most 4096 registrations', () => {
    const d = new DeviceBehaviour('ip:x', cfg.limits);
    for (let i = 0; i < 5000; i++) d.addRegistration(`sip:u${i}@srv`, undefined, 5060, i, { file: 0, frames: [] });
    expect(d.size().lines).toBe(4096);
  });
});

describe('matching calls to lines', () => {
  const regs = [
    { aor: 'sip:goip01@srv', contact: '<sip:goip01@10.9.9.9:5060>;expires=60', port: 5060 },
    { aor: 'sip:goip02@srv', contact: '"GoIP 2" <sip:goip02@10.9.9.9:5060;transport=udp>', port: 5060 },
    { aor: 'sip:13800000003@srv', contact: '<sip:13800000003@10.9.9.9:5063>', port: 5063 },
    { aor: 'sip:line4@srv', contact: 'sip:line4@192.168.0.4:5064', port: 5064 },
  ];
  it.each([
    ['terminated, Request-URI user@host:port = Contact', sc({ invite: 0, requestUser: 'goip02', callee: '13912345678' }), 'sip:goip02@srv'],
    ['terminated, Request-URI host:port = a single Contact', sc({ invite: 0, port: 5063, callee: '13912345678' }), 'sip:13800000003@srv'],
    ['terminated, REGISTER source port = UAS port', { ...sc({ invite: 0, port: 5064, callee: '1391' }), call: { ...sc({ invite: 0, port: 5064 }).call, requestHostPort: '203.0.113.1:5064' } }, 'sip:line4@srv'],
    ['terminated, ambiguous host:port and a dialled number', sc({ invite: 0, callee: '13912345678' }), undefined],
    ['originated, caller = AOR user', sc({ invite: 0, dir: 'out', caller: 'goip01', callee: '8000' }), 'sip:goip01@srv'],
    ['originated, caller = AOR user in another number form', sc({ invite: 0, dir: 'out', caller: '+8613800000003', callee: '8000' }), 'sip:13800000003@srv'],
    ['originated, REGISTER source port = UAC port', sc({ invite: 0, dir: 'out', port: 5064, caller: 'anonymous' }), 'sip:line4@srv'],
    ['originated, shared port and an unknown caller', sc({ invite: 0, dir: 'out', port: 5060, caller: 'anonymous' }), undefined],
  ] as Array<[string, { call: CallRecord; role: 'uac' | 'uas' }, string | undefined]>)('%s', (_, c, want) => {
    expect(matchLines(regs, [c])).toEqual([want]);
  });

  it.each([
    ['<sip:goip01@10.0.0.5:5062;transport=udp>;expires=60', 'goip01', '10.0.0.5:5062'],
    ['"Line 1" <sip:1001@Example.COM>', '1001', 'example.com:5060'],
    ['sip:1001@10.0.0.5;expires=60', '1001', '10.0.0.5:5060'],
    ['<sips:1001@[2001:db8::1]:5071>', '1001', '[2001:db8::1]:5071'],
    ['<sips:host.example>', undefined, 'host.example:5061'],
    ['*', undefined, undefined],
  ])('Contact %s → user %s, %s', (contact, user, hp) => {
    expect(parseContact(contact)).toEqual({ user, hostPort: hp });
  });

  it('normalises host:port with the default port', () => {
    expect(hostPort('10.0.0.5')).toBe('10.0.0.5:5060');
    expect(hostPort('GW.example:5062')).toBe('gw.example:5062');
  });
});

describe('concurrency and lineSaturation', () => {
  it('takes p95 over the busy time so one burst does not make a busy device', () => {
    const calls = series(100, 60 * S, () => ({ ring: 5 * S, talk: 40 * S }));
    for (let k = 0; k < 4; k++) calls.push(sc({ invite: 30 * 60 * S + 10 * S + k, ring: S, talk: 5 * S, port: 6000 + k }));
    const p = dev(calls).profile(cfg);
    expect(p.counters.concurrentMax).toBe(5);
    expect(feature(p, 'concurrency').value).toBe(1);
    expect(feature(p, 'concurrency').fired).toBe(false);
  });

  it('counts back-to-back calls on a line as not concurrent', () => {
    const calls = series(30, 35 * S, () => ({ ring: 5 * S, talk: 30 * S }));
    expect(dev(calls).profile(cfg).counters.concurrentMax).toBe(1);
  });

  it('is unmeasured below 4 concurrent calls, and tells single-call lines from a trunk', () => {
    const low = dev(series(30, 60 * S)).profile(cfg);
    expect(feature(low, 'lineSaturation').value).toBeNull();
    expect(feature(low, 'lineSaturation').explain).toMatch(/at most 1 call\(s\) at once/);
    // Four channels (ports, no REGISTER) one call each, then a fifth port that overlaps itself.
    const calls = [0, 1, 2, 3].flatMap((l) => series(6, 50 * S, () => ({ port: 5061 + l, ring: 2 * S, talk: 40 * S })));
    const chans = dev(calls).profile(cfg);
    expect(feature(chans, 'lineSaturation').value).toBe(1);
    expect(feature(chans, 'lineSaturation').explain).toBe('4 of 4 lines never carried two calls at once while up to 4 calls ran (4 line(s) told apart by SIP port, without a REGISTER)');
    const trunk = dev([...calls, ...series(6, 20 * S, () => ({ port: 5070, talk: 40 * S }))]).profile(cfg);
    expect(feature(trunk, 'lineSaturation').value).toBe(0.8);
    expect(feature(trunk, 'lineSaturation').fired).toBe(false);
  });
});

describe('attemptRate, answerRatio, callDuration, oneWay, codecs', () => {
  it('guards a short capture: the span counts as at least 10 minutes', () => {
    // 40 attempts on 4 channels within 2 minutes: 60 per channel-hour, not 300.
    const calls = [0, 1, 2, 3].flatMap((l) => series(10, 12 * S, () => ({ port: 5061 + l, outcome: 'busy', ring: S })));
    const f = feature(dev(calls).profile(cfg), 'attemptRate');
    expect(f.value).toBe(60);
    expect(f.explain).toMatch(/counted as 10 min/);
  });

  it('fires answerRatio at the threshold (≤ 0.45) and ignores attempts without an outcome', () => {
    const mk = (answered: number) => [
      ...series(20, 60 * S, (i) => ({ outcome: i < answered ? 'answered' : 'busy' })),
      ...series(5, 60 * S, () => ({ outcome: 'unfinished' as CallOutcome })),
    ];
    const at = feature(dev(mk(9)).profile(cfg), 'answerRatio');
    expect([at.value, at.fired]).toEqual([0.45, true]);
    expect(at.explain).toBe('9 of 20 attempts with a known outcome were answered (45 %)');
    const above = feature(dev(mk(10)).profile(cfg), 'answerRatio');
    expect([above.value, above.fired]).toEqual([0.5, false]);
  });

  it('measures mean answered duration, counting calls still running as at least the threshold', () => {
    const d = dev(series(20, 60 * S, () => ({ talk: 20 * S })));
    expect(feature(d.profile(cfg), 'callDuration').value).toBe(20);
    // 20 open calls answered 5 s before "now": they count as ≥ 60 s, which stops the feature.
    const open = series(20, 0, (i) => ({ invite: 20 * 60 * S + i, talk: 5 * S, outcome: 'unfinished' }));
    const f = feature(d.profile(cfg, open), 'callDuration');
    expect(f.value).toBe(40);
    expect(f.fired).toBe(true);
    expect(f.explain).toMatch(/20 answered call\(s\) still running or without BYE counted as at least 60 s/);
    expect(feature(d.profile(cfg), 'callDuration').value).toBe(20);
    expect(feature(dev(series(20, 60 * S, (i) => ({ outcome: i < 4 ? 'answered' : 'busy' }))).profile(cfg), 'callDuration').value).toBeNull();
  });

  it('measures one-way traffic both ways round', () => {
    expect(feature(dev(series(20, 60 * S, () => ({ dir: 'out' }))).profile(cfg), 'oneWay').explain).toMatch(/^20 of 20 calls were originated/);
    const mixed = feature(dev(series(20, 60 * S, (i) => ({ dir: i % 4 ? 'in' : 'out' }))).profile(cfg), 'oneWay');
    expect([mixed.value, mixed.fired]).toEqual([0.75, false]);
  });

  it('takes the codec from SIP, and from RTP streams when SIP had none', () => {
    expect(feature(dev(series(20, 60 * S, () => ({ codec: 'G.729a' }))).profile(cfg), 'lowBitrateCodec').value).toBe(1);
    const d = dev(series(20, 60 * S, () => ({ codec: null })));
    expect(feature(d.profile(cfg), 'lowBitrateCodec').value).toBeNull();
    for (let i = 0; i < 6; i++) d.addRtp(stream(i, i < 3 ? 'G729' : 'PCMU'), 'src');
    const p = d.profile(cfg);
    expect(feature(p, 'lowBitrateCodec').value).toBe(0.5);
    expect(feature(p, 'lowBitrateCodec').explain).toMatch(/^3 of 6 RTP streams/);
    expect(p.counters).toMatchObject({ rtpStreams: 6, rtpLossPct: 2, rtpJitterMsP50: 2, ptimeMs: 20 });
  });
});

function stream(i: number, codec: string): RtpStreamStats {
  return {
    src: { ip: DEV, port: 10000 + 2 * i }, dst: { ip: '203.0.113.99', port: 20000 }, ssrc: i, payloadType: codec === 'G729' ? 18 : 0,
    payloadTypes: {}, codec, clockRate: 8000, packets: 98, payloadBytes: 1960, expected: 100, lost: 2, jitterMs: i, ptimeMs: 20,
    firstTs: i * S, lastTs: i * S + 2 * S, ref: { file: 1, frames: [i] }, foundBy: 'sdp',
  };
}

describe('mobileShare', () => {
  it('is unmeasured with fewer than 10 dialled numbers', () => {
    expect(feature(dev(series(20, 60 * S, (i) => ({ callee: i < 9 ? '13812345678' : undefined }))).profile(cfg), 'mobileShare').value).toBeNull();
  });

  it('uses the configured ranges and every number form', () => {
    const forms = ['+8613812345678', '008613912345678', '8615012345678', '13312345678', '013512345678', '01012345678', '075512345678', '+447700900123', '10086', '19212345678'];
    const p = dev(forms.flatMap((n, i) => series(2, 60 * S, (k) => ({ invite: (i * 2 + k) * 60 * S, callee: n })))).profile(cfg);
    expect(feature(p, 'mobileShare').value).toBe(0.6);
    const uk = { ...cfg, mobileRanges: [{ name: 'UK mobile', pattern: '^\\+447\\d{9}$', source: 'test' }] };
    expect(feature(dev(series(20, 60 * S, () => ({ callee: '00447700900123' }))).profile(uk), 'mobileShare').value).toBe(1);
  });
});

describe('fixedDurations', () => {
  it('is unmeasured with fewer than 8 answered calls', () => {
    expect(feature(dev(series(20, 60 * S, (i) => ({ outcome: i < 7 ? 'answered' : 'busy' }))).profile(cfg), 'fixedDurations').value).toBeNull();
  });

  it('fires on scripted calls of one length among varied ones, not on varied ones alone', () => {
    const g = new Gen(7);
    const varied = series(200, 90 * S, () => ({ talk: g.uni(10, 60) * S }));
    const calm = feature(dev(varied).profile(cfg), 'fixedDurations');
    expect(calm.fired).toBe(false);
    const scripted = series(30, 600 * S, (i) => ({ invite: i * 600 * S + 7, talk: 45 * S + (i % 12) * 50, port: 7000 }));
    const f = feature(dev([...varied, ...scripted]).profile(cfg), 'fixedDurations');
    expect(f.fired).toBe(true);
    expect(f.explain).toMatch(/^\d+ answered calls lasted 4[45]\.\d-4[67]\.\d s; the neighbouring durations predict \d+\.\d and chance at most \d+$/);
    expect(f.refs.length).toBe(8);
  });

  it('ignores calls that ended as soon as they were answered', () => {
    expect(feature(dev(series(30, 60 * S, () => ({ talk: 1 * S }))).profile(cfg), 'fixedDurations').value).toBeNull();
  });
});

describe('fixedIntervals', () => {
  it('fires on calls to one number at a near-constant interval', () => {
    const g = new Gen(11);
    const calls = [...series(14, 300 * S, (i) => ({ invite: i * 300 * S + g.uni(0, 200) * S, callee: g.mobile(), talk: g.uni(20, 90) * S })),
      ...series(7, 600 * S, (i) => ({ invite: i * 600 * S + g.uni(-5, 5) * S + 1, callee: '13900001111', port: 5080 + (i % 2) }))];
    const f = feature(dev(calls).profile(cfg), 'fixedIntervals');
    expect(f.fired).toBe(true);
    expect(f.explain).toMatch(/^7 calls to 13900001111 about every 60\d s/);
  });

  it('does not fire on human redials, and needs 6 calls', () => {
    const g = new Gen(12);
    let t = 0;
    const human = series(8, 0, () => ({ invite: (t += g.exp(6)), callee: '13900001111' }));
    expect(feature(dev([...human, ...series(12, 60 * S, () => ({ port: 6000 + Math.floor(g.uni(0, 100)) }))]).profile(cfg), 'fixedIntervals').fired).toBe(false);
    const five = series(5, 600 * S, () => ({ callee: '13900001111', port: 5999 }));
    const few = dev([...five, ...series(15, 60 * S, (i) => ({ port: 6000 + i }))]).profile(cfg);
    expect(feature(few, 'fixedIntervals').value).toBeNull();
  });
});

describe('ownNumbers', () => {
  it('is unmeasured without own numbers and without calls both ways', () => {
    expect(feature(dev(series(20, 60 * S)).profile(cfg), 'ownNumbers').value).toBeNull();
  });

  it('counts calls to own numbers from another line, not a line called on its own number', () => {
    const d = dev([
      ...series(10, 60 * S, (i) => ({ port: 5061, callee: i % 2 ? '13800000002' : '13800000003' })), // line 1 dials lines 2 and 3
      ...series(10, 60 * S, () => ({ port: 5062, callee: '13800000002' })), // line 2 called on its own number
    ]);
    for (const n of [1, 2, 3]) d.addRegistration(`sip:1380000000${n}@srv`, `<sip:1380000000${n}@${DEV}:${5060 + n}>`, 5060 + n, 0, { file: 0, frames: [] });
    const f = feature(d.profile(cfg), 'ownNumbers');
    // The 10 calls from line 1 to lines 2 and 3 count; the 10 calls to line 2 on its own number do not.
    expect(f.value).toBe(10);
    expect(f.fired).toBe(true);
    expect(f.explain).toMatch(/2 own number\(s\) called from another of its lines/);
  });

  it('counts hairpins: out on one line, back in on another, answered and ended together', () => {
    const calls = [];
    for (let k = 0; k < 4; k++) {
      const t = k * 900 * S;
      calls.push(sc({ invite: t, port: 5061, ring: 6 * S, talk: 30 * S, callee: `1390000000${k}` }));
      calls.push(sc({ invite: t + 4 * S, dir: 'out', port: 5062, ring: 2 * S - 300, talk: 30 * S + 700, caller: 'goip02', callee: '8000' }));
    }
    const d = dev([...calls, ...series(16, 60 * S, (i) => ({ invite: 100 * S + i * 50 * S, port: 5063 }))]);
    const f = feature(d.profile(cfg), 'ownNumbers');
    expect(f.value).toBe(4);
    expect(f.fired).toBe(true);
    expect(f.explain).toMatch(/4 hairpin\(s\)/);
  });
});

describe('SIMs and SMS', () => {
  const ref = { file: 2, frames: [9] };
  it('counts IMSIs per channel and keeps at most 64 per channel', () => {
    const d = new DeviceBehaviour('ip:x', cfg.limits);
    for (let i = 0; i < 5; i++) d.addSim('3', `46000123456789${i}`, i * H, ref);
    d.addSim('3', '460001234567890', 9 * H, ref);
    d.addSim('4', '460009999999999', 0, ref);
    const f = feature(d.profile(cfg), 'simRotation');
    expect([f.value, f.fired]).toEqual([5, true]);
    expect(f.explain).toMatch(/^channel 3 showed 5 IMSI\(s\) \(460001234567890, 460001234567891, 460001234567892, …\); 1 channel\(s\) showed more than one$/);
    for (let i = 0; i < 100; i++) d.addSim('5', `4600055500${String(i).padStart(5, '0')}`, i, ref);
    expect(d.size().sims).toBe(5 + 1 + 64);
    expect(feature(d.profile(cfg), 'simRotation').explain).toMatch(/^channel 5 showed 64\+ IMSI/);
    expect(d.profile(cfg).counters.sims).toBe(70);
  });

  it('keeps at most 4096 channels', () => {
    const d = new DeviceBehaviour('ip:x', cfg.limits);
    for (let i = 0; i < 5000; i++) d.addSim(String(i), '460001234567890', i, ref);
    expect(d.size().sims).toBe(4096);
  });

  it('counts SIM channels with verification codes, keeps no bodies, and can make a finding with SIM rotation', () => {
    const d = new DeviceBehaviour('ip:x', cfg.limits);
    for (let ch = 1; ch <= 4; ch++) {
      d.addSms(String(ch), '1069012345', `【腾讯科技】您的验证码是${100000 + ch}，5分钟内有效。`, ch * S, ref);
      d.addSms(String(ch), '10086', '您本月话费余额为12.50元。', ch * S, ref);
    }
    const p = d.profile(cfg);
    const f = feature(p, 'verificationSms');
    expect([f.value, f.fired]).toEqual([4, true]);
    expect(f.explain).toBe('verification codes on 4 SIM channel(s): 4 of 8 SMS (QQ 4)');
    expect(p.eligible).toBe(true);
    expect(p.simFarm).toBe(false);
    expect(inspect(d, { depth: 10 })).not.toContain('验证码');
    for (let i = 0; i < 3; i++) d.addSim('1', `46000123456789${i}`, i, ref);
    const both = d.profile(cfg);
    expect(both.simFarm).toBe(true);
    expect(both.counters.verificationSms).toBe(4);
  });

  it('reports SMS without codes as 0, and no SMS as unmeasured', () => {
    const d = new DeviceBehaviour('ip:x', cfg.limits);
    expect(feature(d.profile(cfg), 'verificationSms').value).toBeNull();
    d.addSms('1', '10086', 'hello', 0, ref);
    expect(feature(d.profile(cfg), 'verificationSms').value).toBe(0);
  });
});

describe('state: bounds, purity, merging', () => {
  it('keeps a ring of the most recent calls and counters over all 100,000', () => {
    const limits = { ...cfg.limits, callsPerDevice: 1000 };
    const d = new DeviceBehaviour('ip:x', limits);
    const g = new Gen(5);
    for (let i = 0; i < 100_000; i++) {
      const c = sc({ invite: i * 10 * S, ring: 2 * S, talk: 5 * S, outcome: i % 3 ? 'busy' : 'answered', callee: g.mobile(), port: 5060 + (i % 8) });
      d.addCall(c.call, c.role);
    }
    expect(d.size()).toEqual({ calls: 1000, lines: 0, sims: 0 });
    const p = d.profile(cfg);
    expect(p.counters.attempts).toBe(100_000);
    expect(p.counters.answered).toBe(33_334);
    expect(feature(p, 'mobileShare').explain).toMatch(/95904 call\(s\) to numbers beyond the first 4096 distinct not counted/);
  });

  it('gives the same profile twice and is not changed by profiling with open calls', () => {
    const d = device(fraudGateway({ seed: 8, lines: 8, hours: 1, asr: 0.25, codecs: ['G729'], users: 'msisdn', fake: true, hairpin: false }));
    const before = JSON.stringify(d.profile(cfg));
    const size = d.size();
    const open = series(5, S, (i) => ({ invite: 3 * H + i, outcome: 'unfinished', talk: 10 * S }));
    const withOpen = d.profile(cfg, open);
    expect(withOpen.counters.attempts).toBe(JSON.parse(before).counters.attempts + 5);
    expect(JSON.stringify(d.profile(cfg))).toBe(before);
    expect(d.size()).toEqual(size);
  });

  it('merges an IP-keyed accumulator into the MAC-keyed one of the same device', () => {
    const t = fraudGateway({ seed: 8, lines: 8, hours: 1, asr: 0.25, codecs: ['G729'], users: 'msisdn', fake: true, hairpin: false });
    const whole = device(t).profile(cfg);
    const a = device({ regs: t.regs.slice(0, 4), calls: t.calls.filter((_, i) => i % 2 === 0) }, 'mac:00:11:22:33:44:55');
    const b = device({ regs: t.regs.slice(4), calls: t.calls.filter((_, i) => i % 2 === 1) }, 'ip:10.0.0.5');
    b.addSim('1', '460001234567890', 0, { file: 0, frames: [] });
    a.mergeFrom(b);
    a.mergeFrom(a);
    const merged = a.profile(cfg);
    expect(merged.device).toBe('mac:00:11:22:33:44:55');
    expect({ ...merged.counters, sims: 0 }).toEqual(whole.counters);
    expect(merged.counters.sims).toBe(1);
    expect(merged.features.filter((f) => f.name !== 'simRotation').map((f) => [f.name, f.value, f.fired]))
      .toEqual(whole.features.filter((f) => f.name !== 'simRotation').map((f) => [f.name, f.value, f.fired]));
    expect(a.size().calls).toBe(t.calls.length);
    expect(a.size().lines).toBe(8);
  });

  it('keeps the most recent calls when a merge overflows the ring', () => {
    const limits = { ...cfg.limits, callsPerDevice: 50 };
    const a = dev(series(40, 60 * S), limits);
    const b = dev(series(40, 60 * S, (i) => ({ invite: 3 * H + i * 60 * S })), limits);
    a.mergeFrom(b);
    expect(a.size().calls).toBe(50);
    expect(a.profile(cfg).counters.attempts).toBe(80);
  });

  it('reports a disabled feature as not fired', () => {
    const off = { ...cfg, features: { ...cfg.features, oneWay: { ...cfg.features.oneWay, enabled: false } } };
    const f = feature(dev(series(20, 60 * S)).profile(off), 'oneWay');
    expect(f.value).toBe(1);
    expect(f.fired).toBe(false);
    expect(f.explain).toMatch(/\(feature disabled\)$/);
  });
});
