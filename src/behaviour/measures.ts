/**
 * Evaluation of one device's behaviour (issue 5, DESIGN §4 "Behaviour"): the read-only View that
 * DeviceBehaviour (features.ts) builds, measured into 14 features and combined into a profile.
 *
 *   View ──► calls matched to lines (LineIndex) ──► Seen[] (interval, line or SIP port)
 *              │
 *              ├─► measure* × 14 ──► Measured (value, explanation, telling calls)
 *              │                        └─► FeatureResult (threshold, op, fired) ──► combine (score.ts)
 *              └─► counters, illustrative calls ─────────────────────────────────────► BehaviourProfile
 *
 * Pure functions over the View; nothing here keeps state. features.ts imports this module, so this
 * one imports only types from it (no cycle at load time).
 */
import type { EvidenceRef } from '../detect/model.js';
import type { Channel, KeptCall, Registration, View } from './features.js';
import { isPhoneNumber, matchRange, normaliseNumber } from './numbers.js';
import { combine, lineHostingFeatures } from './score.js';
import type {
  BehaviourConfig, BehaviourCounters, BehaviourProfile, CallSummary, FeatureName, FeatureResult,
} from './types.js';
import { featureNames } from './types.js';

// DeviceBehaviour (features.ts) enforces these and re-exports them; they sit here because
// measureMobileShare quotes bounds.callees and features.ts imports this module, not the reverse.
/** Bounds that are not configurable (sizes of sets, not of work). */
export const bounds = {
  registrations: 4096,
  channels: 4096,
  imsisPerChannel: 64,
  callees: 4096,
  /** Lengths of answered calls that never saw a BYE (censored), most recent. */
  censored: 1024,
  jitterSamples: 1024,
} as const;

/** How each feature's value compares with its threshold. */
export const featureOps: Record<FeatureName, '>=' | '<='> = {
  lines: '>=', concurrency: '>=', lineSaturation: '>=', attemptRate: '>=', answerRatio: '<=', callDuration: '<=',
  mobileShare: '>=', lowBitrateCodec: '>=', oneWay: '>=', fixedDurations: '>=', fixedIntervals: '<=', ownNumbers: '>=',
  simRotation: '>=', verificationSms: '>=',
};

/** Measurement constants (the thresholds and weights are in the config, defaults.ts). */
const M = {
  /** A device must reach this many concurrent calls before line overlap says anything. */
  saturationMinConcurrent: 4,
  /** Lines with ≥ 2 calls needed to measure lineSaturation. */
  saturationMinLines: 3,
  /** A new call on a line may start this long before the previous BYE completes (signalling skew). */
  overlapToleranceMs: 1000,
  /** attemptRate divides by at least this span, so a 2-minute capture does not extrapolate to hours. */
  minSpanMs: 10 * 60_000,
  /** An unanswered call whose record timed out is counted as ringing at most this long. */
  maxRingMs: 60_000,
  minDecided: 10,
  minAnsweredForDuration: 5,
  minNumbered: 10,
  minCodecSamples: 5,
  /** fixedDurations: window ±1 s (2 s wide), background from the 15 s on each side of it. */
  durationWindowMs: 2000,
  durationBackgroundMs: 15_000,
  /** Calls that ended within 3 s of the answer are failures, not scripts. */
  minScriptedDurationMs: 3000,
  /** A cluster counts above the largest count chance gives with this probability (many windows are tried). */
  durationChance: 1e-6,
  minAnsweredForClusters: 8,
  /** fixedIntervals: repetitions (intervals) needed, and the shortest mean interval considered. */
  minRepetitions: 5,
  minIntervalMs: 10_000,
  /** Hairpin: the looped-back call starts within 30 s and answers and ends within 2 s of the outgoing one. */
  hairpinStartMs: 30_000,
  hairpinAlignMs: 2000,
  /** Hairpins count only when they pair at least this share of the answered calls of the rarer direction. */
  hairpinMinShare: 0.05,
} as const;

export const LOW_BITRATE = /^(?:G\.?729|G\.?723|GSM|AMR|ILBC)/i;

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
const pct = (x: number): string => `${Math.round(x * 100)} %`;
const secs = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** A call with its interval and line, as the features see it. */
interface Seen {
  k: KeptCall;
  start: number;
  end: number;
  /** Registered AOR the call was matched to. */
  line?: string;
  /** The line, or for unmatched calls the device's SIP port (one port per GSM channel on many gateways). */
  lineOrPort?: string;
}

/** Where a call's interval ends: unanswered records closed by a timeout are cut to a plausible ringing time. */
function intervalEnd(k: KeptCall): number {
  if (k.outcome === 'unfinished' && k.answerTs === undefined && !k.open) {
    return Math.max(k.inviteTs, Math.min(k.endTs, (k.ringingTs ?? k.inviteTs) + M.maxRingMs));
  }
  return Math.max(k.inviteTs, k.endTs);
}

export class LineIndex {
  private byContact = new Map<string, string[]>();
  private byHostPort = new Map<string, string[]>();
  private byUser = new Map<string, string[]>();
  private byPort = new Map<number, string[]>();
  constructor(regs: Registration[]) {
    const add = <K>(m: Map<K, string[]>, k: K | undefined, aor: string): void => {
      if (k === undefined || k === '') return;
      const l = m.get(k);
      if (!l) m.set(k, [aor]);
      else if (!l.includes(aor)) l.push(aor);
    };
    for (const r of regs) {
      if (r.contactHostPort) {
        add(this.byHostPort, r.contactHostPort, r.aor);
        if (r.contactUser) add(this.byContact, `${r.contactUser}@${r.contactHostPort}`, r.aor);
      }
      for (const u of [r.user, r.contactUser]) if (u) add(this.byUser, normaliseNumber(u), r.aor);
      for (const p of r.ports) add(this.byPort, p, r.aor);
    }
  }
  private static one(l: string[] | undefined): string | undefined {
    return l && l.length === 1 ? l[0] : undefined;
  }
  /**
   * The registered line a call used. Terminated (the device received the INVITE): the Contact whose
   * user@host:port, else host:port alone, matches the Request-URI; else an AOR/Contact user equal
   * to the Request-URI user; else the REGISTER source port equal to the UAS port. Originated: the
   * AOR user equal to the caller, else the REGISTER source port equal to the UAC port. Ambiguous
   * candidates match nothing.
   */
  match(k: KeptCall): string | undefined {
    if (k.role === 'uas') {
      if (k.requestHostPort && k.requestUser) {
        const l = LineIndex.one(this.byContact.get(`${k.requestUser}@${k.requestHostPort}`));
        if (l) return l;
      }
      const byHp = k.requestHostPort ? LineIndex.one(this.byHostPort.get(k.requestHostPort)) : undefined;
      if (byHp) return byHp;
      const byUser = k.requestUser ? LineIndex.one(this.byUser.get(normaliseNumber(k.requestUser))) : undefined;
      if (byUser) return byUser;
      return k.uasPort !== undefined ? LineIndex.one(this.byPort.get(k.uasPort)) : undefined;
    }
    const byUser = k.caller ? LineIndex.one(this.byUser.get(k.caller)) : undefined;
    if (byUser) return byUser;
    return k.uacPort !== undefined ? LineIndex.one(this.byPort.get(k.uacPort)) : undefined;
  }
}

/** Time-weighted concurrency over the busy time (time with ≥ 1 call), and the moment of the maximum. */
function concurrency(calls: Seen[]): { max: number; p95: number; atMax: Seen[] } {
  const ev: Array<[number, number, number]> = [];
  calls.forEach((c, i) => {
    ev.push([c.start, 1, i]);
    ev.push([c.end, -1, i]);
  });
  // Ends before starts at the same instant: back-to-back calls on a channel are not concurrent.
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const time = new Map<number, number>();
  const active = new Set<number>();
  let level = 0;
  let max = 0;
  let atMax: number[] = [];
  let last = ev.length ? ev[0]![0] : 0;
  for (const [t, d, i] of ev) {
    if (level > 0 && t > last) time.set(level, (time.get(level) ?? 0) + (t - last));
    last = t;
    level += d;
    if (d > 0) active.add(i);
    else active.delete(i);
    if (level > max) {
      max = level;
      atMax = [...active];
    }
  }
  const busy = [...time.values()].reduce((a, b) => a + b, 0);
  let p95 = max;
  if (busy > 0) {
    let acc = 0;
    for (const l of [...time.keys()].sort((a, b) => a - b)) {
      acc += time.get(l)!;
      if (acc >= 0.95 * busy) {
        p95 = l;
        break;
      }
    }
  }
  return { max, p95, atMax: atMax.map((i) => calls[i]!) };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function cv(xs: number[]): number {
  const m = mean(xs);
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length);
  return m > 0 ? sd / m : Infinity;
}

interface Measured {
  value: number | null;
  explain: string;
  /** Calls that show the feature, most telling first. */
  calls?: Seen[];
  refs?: EvidenceRef[];
}

export function evaluate(v: View, cfg: BehaviourConfig): BehaviourProfile {
  const index = new LineIndex(v.registrations);
  const seen: Seen[] = v.calls.map((k) => {
    const line = index.match(k);
    // Without a REGISTER, a SIP port the device *receives* calls on stands for a line (a GSM gateway
    // listens on one port per channel). The ports a device *sends* from do not: a softswitch or an
    // SBC may spread its own calls over many sockets, and that says nothing about lines it holds.
    const port = k.role === 'uas' ? (k.requestHostPort?.split(':').pop() ?? k.uasPort) : undefined;
    return { k, start: k.inviteTs, end: intervalEnd(k), line, lineOrPort: line ?? (port !== undefined ? `port:${port}` : undefined) };
  });
  seen.sort((a, b) => a.start - b.start);
  const conc = concurrency(seen);
  const callsOk = v.attempts >= cfg.minCalls;
  const notEnough: Measured = { value: null, explain: `only ${v.attempts} call attempt(s); call behaviour is measured from ${cfg.minCalls}` };
  const callFeature = (f: () => Measured): Measured => (callsOk ? f() : notEnough);
  const linesWithCalls = new Set(seen.map((s) => s.line).filter((l): l is string => l !== undefined));

  const measured: Record<FeatureName, Measured> = {
    lines: callFeature(() => measureLines(v)),
    concurrency: callFeature(() => ({
      value: conc.p95,
      explain: `up to ${conc.max} calls at once; ${conc.p95} or more during 5 % of the busy time (p95)`,
      calls: conc.atMax,
    })),
    lineSaturation: callFeature(() => measureSaturation(seen, conc)),
    attemptRate: callFeature(() => measureAttemptRate(v, linesWithCalls.size, conc.max, seen)),
    answerRatio: callFeature(() => measureAnswerRatio(v, seen)),
    callDuration: callFeature(() => measureDuration(v, seen, cfg.features.callDuration.threshold)),
    mobileShare: callFeature(() => measureMobileShare(v, seen, cfg)),
    lowBitrateCodec: callFeature(() => measureCodecs(v, seen)),
    oneWay: callFeature(() => measureOneWay(v, seen)),
    fixedDurations: callFeature(() => measureFixedDurations(seen)),
    fixedIntervals: callFeature(() => measureFixedIntervals(seen)),
    ownNumbers: callFeature(() => measureOwnNumbers(v, seen)),
    simRotation: measureSimRotation(v),
    verificationSms: measureVerificationSms(v),
  };

  const features: FeatureResult[] = featureNames.map((name) => {
    const m = measured[name];
    const s = cfg.features[name];
    const op = featureOps[name];
    const value = m.value === null || !Number.isFinite(m.value) ? null : round3(m.value);
    const fired = s.enabled && value !== null && (op === '>=' ? value >= s.threshold : value <= s.threshold);
    const refs = m.refs ?? (m.calls ?? []).map((c) => c.k.ref);
    return {
      name, value, threshold: s.threshold, op, fired, weight: s.weight,
      explain: s.enabled ? m.explain : `${m.explain} (feature disabled)`,
      refs: refs.slice(0, 8),
    };
  });

  const hasSimFacts = [...v.channels.values()].some((ch) => ch.imsis.size > 0) || v.smsSeen > 0;
  const eligible = callsOk || hasSimFacts;
  const { score, simFarm } = eligible ? combine(features, cfg) : { score: 0, simFarm: false };

  // Calls that best illustrate the fired features: robotic ones first, then the rest in feature order.
  const order: FeatureName[] = ['ownNumbers', 'fixedDurations', 'fixedIntervals', ...featureNames.filter((n) => !['ownNumbers', 'fixedDurations', 'fixedIntervals'].includes(n))];
  const picked = new Map<KeptCall, Seen>();
  for (const name of order) {
    if (!features.find((f) => f.name === name)!.fired) continue;
    for (const c of (measured[name].calls ?? []).slice(0, 4)) if (picked.size < 10) picked.set(c.k, c);
  }
  const calls: CallSummary[] = [...picked.values()].map((c) => ({
    callId: c.k.callId, role: c.k.role, line: c.line ?? 'unmatched', caller: c.k.caller, callee: c.k.callee,
    inviteTs: c.k.inviteTs, outcome: c.k.outcome, durationMs: c.k.durationMs, codec: c.k.codec, ref: c.k.ref,
  }));

  const counters = buildCounters(v, conc);
  const firstSeen = Number.isFinite(v.firstSeen) ? v.firstSeen : 0;
  const lastSeen = Number.isFinite(v.lastSeen) ? v.lastSeen : 0;
  return {
    device: v.key,
    eligible,
    ...(eligible ? (score >= cfg.threshold && !simFarm ? { reason: notFarmReason(features, cfg) } : {})
      : { reason: `only ${v.attempts} call attempt(s) (needs ${cfg.minCalls}) and no SIM or SMS facts` }),
    score, simFarm, features, counters, calls, firstSeen, lastSeen,
  };
}

function buildCounters(v: View, conc: { max: number; p95: number }): BehaviourCounters {
  const imsis = new Set<string>();
  let codes = 0;
  for (const ch of v.channels.values()) {
    for (const i of ch.imsis.keys()) imsis.add(i);
    codes += ch.codes;
  }
  const jit = [...v.rtp.jitter].sort((a, b) => a - b);
  let ptime: number | undefined;
  let best = 0;
  for (const [p, n] of v.rtp.ptimes) if (n > best || (n === best && ptime !== undefined && p < ptime)) [ptime, best] = [p, n];
  return {
    attempts: v.attempts,
    answered: v.answered,
    originated: v.originated,
    terminated: v.terminated,
    registeredLines: v.registrations.length,
    concurrentMax: conc.max,
    concurrentP95: conc.p95,
    spanS: Number.isFinite(v.firstInviteTs) && v.lastEndTs >= v.firstInviteTs ? Math.round((v.lastEndTs - v.firstInviteTs) / 1000) : 0,
    codecs: v.codecs,
    rtpStreams: v.rtp.streams,
    ...(v.rtp.expected > 0 ? { rtpLossPct: round3((100 * v.rtp.lost) / v.rtp.expected) } : {}),
    ...(jit.length ? { rtpJitterMsP50: round3(jit[Math.floor((jit.length - 1) / 2)]!) } : {}),
    ...(ptime !== undefined ? { ptimeMs: ptime } : {}),
    sims: imsis.size,
    verificationSms: codes,
  };
}

function measureLines(v: View): Measured {
  const n = v.registrations.length;
  const sample = v.registrations.slice(0, 3).map((r) => r.aor).join(', ');
  const dropped = v.registrationsDropped;
  return {
    value: n,
    explain: n === 0
      ? 'no REGISTER seen from this device'
      : `${n}${dropped ? '+' : ''} lines registered (${sample}${n > 3 ? ', …' : ''})`,
    refs: v.registrations.map((r) => r.ref),
  };
}

function byKey<T>(items: T[], key: (x: T) => string | undefined): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of items) {
    const k = key(x);
    if (k === undefined) continue;
    const l = m.get(k);
    if (l) l.push(x);
    else m.set(k, [x]);
  }
  return m;
}

function measureSaturation(seen: Seen[], conc: { max: number; atMax: Seen[] }): Measured {
  if (conc.max < M.saturationMinConcurrent) {
    return { value: null, explain: `at most ${conc.max} call(s) at once; line overlap is measured from ${M.saturationMinConcurrent}` };
  }
  const multi = [...byKey(seen, (s) => s.lineOrPort)].filter(([, calls]) => calls.length >= 2);
  if (multi.length < M.saturationMinLines) {
    return { value: null, explain: `only ${multi.length} line(s) carried two or more calls; measured from ${M.saturationMinLines}` };
  }
  const single = new Set<string>();
  for (const [line, calls] of multi) {
    // `seen` is sorted by start, so each line's calls are too.
    let maxEnd = -Infinity;
    let overlapped = false;
    for (const c of calls) {
      if (c.start < maxEnd - M.overlapToleranceMs) {
        overlapped = true;
        break;
      }
      maxEnd = Math.max(maxEnd, c.end);
    }
    if (!overlapped) single.add(line);
  }
  const byPort = multi.filter(([l]) => l.startsWith('port:')).length;
  return {
    value: single.size / multi.length,
    explain: `${single.size} of ${multi.length} lines never carried two calls at once while up to ${conc.max} calls ran`
      + (byPort ? ` (${byPort} line(s) told apart by SIP port, without a REGISTER)` : ''),
    calls: conc.atMax.filter((c) => c.lineOrPort !== undefined && single.has(c.lineOrPort)),
  };
}

function spanText(ms: number): string {
  return ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : `${Math.round(ms / 60_000)} min`;
}

function measureAttemptRate(v: View, linesWithCalls: number, concMax: number, seen: Seen[]): Measured {
  // A registered line carrying ten calls at once (a PBX trunk) is ten channels, so divide by the
  // larger of the lines that carried calls and the most calls seen at once.
  const channels = Math.max(linesWithCalls, concMax, 1);
  const span = Math.max(0, v.lastEndTs - v.firstInviteTs);
  const used = Math.max(span, M.minSpanMs);
  const rate = v.attempts / channels / (used / 3_600_000);
  return {
    value: rate,
    // The first and the latest attempts kept: they bound the span the rate is measured over.
    calls: seen.length > 8 ? [...seen.slice(0, 4), ...seen.slice(-4)] : seen,
    explain: `${v.attempts} attempts on ${channels} channel(s) over ${spanText(span)}: ${Math.round(rate)} per channel-hour`
      + (span < M.minSpanMs ? ` (the span is counted as ${M.minSpanMs / 60_000} min so a short capture does not extrapolate)` : ''),
  };
}

function measureAnswerRatio(v: View, seen: Seen[]): Measured {
  if (v.decided < M.minDecided) return { value: null, explain: `only ${v.decided} attempt(s) with a known outcome; measured from ${M.minDecided}` };
  const failed = seen.filter((s) => s.k.answerTs === undefined && s.k.outcome !== 'unfinished').reverse();
  return {
    value: v.answered / v.decided,
    explain: `${v.answered} of ${v.decided} attempts with a known outcome were answered (${pct(v.answered / v.decided)})`,
    calls: failed,
  };
}

function measureDuration(v: View, seen: Seen[], thresholdS: number): Measured {
  if (v.answeredDone < M.minAnsweredForDuration) {
    return { value: null, explain: `only ${v.answeredDone} answered call(s) ended with a BYE; measured from ${M.minAnsweredForDuration}` };
  }
  // Calls still running (or whose BYE was lost) are censored: their length is only a lower bound.
  // Counting each as at least the threshold can only keep the feature from firing, never make it fire.
  const floorMs = thresholdS * 1000;
  const kept = v.censored.reduce((a, l) => a + Math.max(l, floorMs), 0);
  const beyond = Math.max(0, v.censoredTotal - v.censored.length) * floorMs;
  const meanMs = (v.answeredDoneMs + kept + beyond) / (v.answeredDone + v.censoredTotal);
  const short = seen.filter((s) => s.k.outcome === 'answered' && s.k.durationMs !== undefined && s.k.durationMs <= floorMs).reverse();
  return {
    value: meanMs / 1000,
    explain: `mean answered call ${secs(meanMs)} over ${v.answeredDone} call(s) that ended`
      + (v.censoredTotal ? `; ${v.censoredTotal} answered call(s) still running or without BYE counted as at least ${thresholdS} s` : ''),
    calls: short,
  };
}

function measureMobileShare(v: View, seen: Seen[], cfg: BehaviourConfig): Measured {
  const hit = new Map<string, string | undefined>();
  const rangeOf = (n: string): string | undefined => {
    if (!hit.has(n)) hit.set(n, matchRange(n, cfg.mobileRanges)?.name);
    return hit.get(n);
  };
  let numbered = 0;
  let mobile = 0;
  const byRange = new Map<string, number>();
  const tally = (n: string, count: number): void => {
    numbered += count;
    const r = rangeOf(n);
    if (r === undefined) return;
    mobile += count;
    byRange.set(r, (byRange.get(r) ?? 0) + count);
  };
  for (const [n, c] of v.callees) tally(n, c);
  for (const n of v.extraCallees) tally(n, 1);
  if (numbered < M.minNumbered) return { value: null, explain: `only ${numbered} call(s) with a dialled number; measured from ${M.minNumbered}` };
  const top = [...byRange].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([r, c]) => `${r} ${c}`).join(', ');
  return {
    value: mobile / numbered,
    explain: `${mobile} of ${numbered} calls with a dialled number went to the mobile ranges (${pct(mobile / numbered)}${top ? `; ${top}` : ''})`
      + (v.calleeOverflow ? `; ${v.calleeOverflow} call(s) to numbers beyond the first ${bounds.callees} distinct not counted` : ''),
    calls: seen.filter((s) => s.k.callee !== undefined && rangeOf(s.k.callee) !== undefined).reverse(),
  };
}

function measureCodecs(v: View, seen: Seen[]): Measured {
  const low = seen.filter((s) => s.k.codec !== undefined && LOW_BITRATE.test(s.k.codec)).reverse();
  if (v.codecCalls >= M.minCodecSamples) {
    const top = Object.entries(v.codecs).slice(0, 3).map(([c, n]) => `${c} ${n}`).join(', ');
    return {
      value: v.lowCodecCalls / v.codecCalls,
      explain: `${v.lowCodecCalls} of ${v.codecCalls} calls used G.729/G.723/GSM/AMR/iLBC (${top})`,
      calls: low,
    };
  }
  if (v.rtp.codecStreams >= M.minCodecSamples) {
    return {
      value: v.rtp.lowCodecStreams / v.rtp.codecStreams,
      explain: `${v.rtp.lowCodecStreams} of ${v.rtp.codecStreams} RTP streams carried G.729/G.723/GSM/AMR/iLBC (no codec in the SIP of ${v.attempts - v.codecCalls} calls)`,
    };
  }
  return { value: null, explain: `the codec is known for ${v.codecCalls} call(s) and ${v.rtp.codecStreams} RTP stream(s); measured from ${M.minCodecSamples}` };
}

function measureOneWay(v: View, seen: Seen[]): Measured {
  const out = v.originated >= v.terminated;
  const major = out ? v.originated : v.terminated;
  // The calls shown: the few that went the other way first (what a reader checks), then the latest of the dominant way.
  const minorRole = out ? 'uas' : 'uac';
  const minor = seen.filter((s) => s.k.role === minorRole);
  const dominant = seen.filter((s) => s.k.role !== minorRole).slice(-8);
  return {
    value: major / v.attempts,
    calls: [...minor.slice(0, 2), ...dominant.reverse()],
    explain: out
      ? `${v.originated} of ${v.attempts} calls were originated by the device (it sent the INVITE), ${v.terminated} terminated on it`
      : `${v.terminated} of ${v.attempts} calls were terminated on the device (it received the INVITE), ${v.originated} originated by it`,
  };
}

/** Index of the first element ≥ x in an ascending array. */
function lowerBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The smallest k with P(X ≥ k) ≤ p for X ~ Poisson(mean) (normal approximation for large means). */
export function poissonCeiling(mean: number, p: number): number {
  if (mean <= 0) return 1;
  if (mean > 200) return Math.ceil(mean + 5 * Math.sqrt(mean));
  let pmf = Math.exp(-mean);
  let tail = 1 - pmf; // P(X ≥ 1)
  let k = 1;
  while (tail > p) {
    pmf *= mean / k;
    tail -= pmf;
    k++;
  }
  return k;
}

function measureFixedDurations(seen: Seen[]): Measured {
  const answered = seen
    .filter((s) => !s.k.open && s.k.outcome === 'answered' && s.k.durationMs !== undefined && s.k.durationMs >= M.minScriptedDurationMs)
    .sort((a, b) => a.k.durationMs! - b.k.durationMs!);
  if (answered.length < M.minAnsweredForClusters) {
    return { value: null, explain: `only ${answered.length} answered call(s) of ${M.minScriptedDurationMs / 1000} s or more; measured from ${M.minAnsweredForClusters}` };
  }
  const d = answered.map((s) => s.k.durationMs!);
  const upper = (x: number): number => lowerBound(d, x + 1); // first index > x (integer ms)
  let best = { excess: -Infinity, i: 0, j: 0, b: 0, q: 0 };
  for (let i = 0; i < d.length; i++) {
    if (i > 0 && d[i] === d[i - 1]) continue;
    const lo = d[i]!;
    const hi = lo + M.durationWindowMs;
    const j = upper(hi);
    const w = j - i;
    const left = i - lowerBound(d, lo - M.durationBackgroundMs);
    const right = upper(hi + M.durationBackgroundMs) - j;
    // The denser side predicts the window: a step in the distribution (talk times that start at
    // 60 s) is not a spike, a spike stands above both sides.
    const b = (Math.max(left, right) * M.durationWindowMs) / M.durationBackgroundMs;
    // Calls beyond what chance gives once in a million windows at that density: every distinct
    // duration starts a window, so the largest of many fluctuations must stay below.
    const q = poissonCeiling(b, M.durationChance);
    const excess = w - q;
    if (excess > best.excess) best = { excess, i, j, b, q };
  }
  const cluster = answered.slice(best.i, best.j);
  const lo = d[best.i]!;
  return {
    value: Math.max(0, best.excess),
    explain: `${cluster.length} answered calls lasted ${(lo / 1000).toFixed(1)}-${((lo + M.durationWindowMs) / 1000).toFixed(1)} s; `
      + `the neighbouring durations predict ${best.b.toFixed(1)} and chance at most ${best.q}`,
    calls: cluster.sort((a, b) => b.start - a.start),
  };
}

function measureFixedIntervals(seen: Seen[]): Measured {
  const groups = new Map<string, Seen[]>();
  for (const [k, l] of byKey(seen, (s) => s.lineOrPort)) groups.set(`on line ${k}`, l);
  for (const [k, l] of byKey(seen, (s) => s.k.callee)) groups.set(`to ${k}`, l);
  let best: { cv: number; meanMs: number; label: string; calls: Seen[] } | undefined;
  for (const [label, calls] of groups) {
    if (calls.length < M.minRepetitions + 1) continue;
    const gaps: number[] = [];
    for (let i = 1; i < calls.length; i++) gaps.push(calls[i]!.start - calls[i - 1]!.start);
    const m = mean(gaps);
    if (m < M.minIntervalMs) continue;
    const c = cv(gaps);
    if (!best || c < best.cv) best = { cv: c, meanMs: m, label, calls };
  }
  if (!best) {
    return { value: null, explain: `no line or number with ${M.minRepetitions + 1} or more calls at least ${M.minIntervalMs / 1000} s apart` };
  }
  return {
    value: best.cv,
    explain: `${best.calls.length} calls ${best.label} about every ${secs(best.meanMs)} (coefficient of variation ${best.cv.toFixed(2)})`,
    calls: [...best.calls].reverse(),
  };
}

function measureOwnNumbers(v: View, seen: Seen[]): Measured {
  // Numbers of this device, each with the line(s) it belongs to: phone-number AOR users, and the
  // callers of calls the device originated (the SIM a GSM call came in on presents its number).
  const own = new Map<string, Set<string>>();
  const add = (n: string, line: string): void => {
    const s = own.get(n);
    if (s) s.add(line);
    else own.set(n, new Set([line]));
  };
  for (const r of v.registrations) if (r.user && isPhoneNumber(r.user)) add(normaliseNumber(r.user), r.aor);
  for (const s of seen) if (s.k.role === 'uac' && s.k.caller && isPhoneNumber(s.k.caller) && s.lineOrPort) add(s.k.caller, s.lineOrPort);
  const term = seen.filter((s) => s.k.role === 'uas');
  const orig = seen.filter((s) => s.k.role === 'uac');
  if (own.size === 0 && (term.length === 0 || orig.length === 0)) {
    return { value: null, explain: 'no own numbers known (no phone-number lines, no originated calls) and no calls in both directions' };
  }
  // A call to an own number counts only from another line: a line being called on its own number is ordinary.
  const dialled = new Map<string, Seen[]>();
  for (const s of seen) {
    const lines = s.k.callee !== undefined ? own.get(s.k.callee) : undefined;
    if (!lines || !s.lineOrPort || lines.has(s.lineOrPort)) continue;
    const l = dialled.get(s.k.callee!);
    if (l) l.push(s);
    else dialled.set(s.k.callee!, [s]);
  }
  // Hairpins: out on one line (the device terminated the INVITE and dialled), back in on another
  // (it originated an INVITE for the GSM call that arrived), answered and ended together.
  const answeredOut = term.filter((s) => !s.k.open && s.k.answerTs !== undefined);
  const answeredIn = orig.filter((s) => !s.k.open && s.k.answerTs !== undefined);
  const inStarts = answeredIn.map((s) => s.start);
  const used = new Set<Seen>();
  const pairs: Array<[Seen, Seen]> = [];
  for (const t of answeredOut) {
    for (let i = lowerBound(inStarts, t.start); i < answeredIn.length && inStarts[i]! <= t.start + M.hairpinStartMs; i++) {
      const u = answeredIn[i]!;
      if (used.has(u) || (t.lineOrPort !== undefined && t.lineOrPort === u.lineOrPort)) continue;
      if (Math.abs(u.k.answerTs! - t.k.answerTs!) <= M.hairpinAlignMs && Math.abs(u.end - t.end) <= M.hairpinAlignMs) {
        used.add(u);
        pairs.push([t, u]);
        break;
      }
    }
  }
  // Chance alignments happen on a busy two-way trunk; a farm's loops are a real share of the calls
  // coming back in (a bypass gateway originates little else).
  const share = pairs.length / Math.max(1, Math.min(answeredOut.length, answeredIn.length));
  const loops = share >= M.hairpinMinShare ? pairs : [];
  const extraPairs = loops.filter(([t]) => t.k.callee === undefined || !dialled.has(t.k.callee));
  const numbers = [...dialled.keys()];
  const parts: string[] = [];
  parts.push(numbers.length
    ? `${numbers.length} own number(s) called from another of its lines (${numbers.slice(0, 3).join(', ')}${numbers.length > 3 ? ', …' : ''})`
    : 'no own number called from another of its lines');
  parts.push(`${pairs.length} hairpin(s): a call out on one line came back in on another within ${M.hairpinStartMs / 1000} s and ended with it`
    + (pairs.length && !loops.length ? ` (only ${pct(share)} of the answered calls in that direction: chance, not counted)` : ''));
  // Counted in calls: scripted fake usage is two SIMs of one farm calling each other again and again.
  const ownCalls = [...dialled.values()].reduce((a, l) => a + l.length, 0);
  return {
    value: ownCalls + extraPairs.length,
    explain: `${parts.join('; ')}: ${ownCalls + extraPairs.length} call(s) in all (${own.size} own number(s) known)`,
    calls: [...[...dialled.values()].map((l) => l[l.length - 1]!), ...loops.flat()],
  };
}

function measureSimRotation(v: View): Measured {
  let best: { name: string; ch: Channel } | undefined;
  let rotating = 0;
  for (const [name, ch] of v.channels) {
    if (ch.imsis.size > 1) rotating++;
    if (ch.imsis.size > 0 && (!best || ch.imsis.size > best.ch.imsis.size)) best = { name, ch };
  }
  if (!best) return { value: null, explain: 'no SIM facts (IMSI per channel) seen' };
  const imsis = [...best.ch.imsis].sort((a, b) => a[1].firstTs - b[1].firstTs);
  const n = imsis.length;
  return {
    value: n,
    explain: `channel ${best.name} showed ${n}${best.ch.imsiOverflow ? '+' : ''} IMSI(s) (${imsis.slice(0, 3).map(([i]) => i).join(', ')}${n > 3 ? ', …' : ''}); `
      + `${rotating} channel(s) showed more than one`,
    refs: imsis.map(([, x]) => x.ref),
  };
}

function measureVerificationSms(v: View): Measured {
  if (v.smsSeen === 0) return { value: null, explain: 'no SMS seen' };
  const withCodes = [...v.channels.values()].filter((ch) => ch.codes > 0);
  const codes = withCodes.reduce((a, ch) => a + ch.codes, 0);
  const platforms = new Map<string, number>();
  for (const ch of withCodes) for (const [p, n] of ch.platforms) platforms.set(p, (platforms.get(p) ?? 0) + n);
  const top = [...platforms].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([p, n]) => `${p} ${n}`).join(', ');
  return {
    value: withCodes.length,
    explain: `verification codes on ${withCodes.length} SIM channel(s): ${codes} of ${v.smsSeen} SMS${top ? ` (${top})` : ''}`,
    refs: withCodes.flatMap((ch) => ch.codeRefs),
  };
}

/** Why a device whose score reached the threshold still is not called a SIM farm. */
function notFarmReason(features: FeatureResult[], cfg: BehaviourConfig): string {
  const fired = features.filter((f) => f.fired);
  if (fired.length < cfg.minFeatures) return `only ${fired.length} feature(s) fired (needs ${cfg.minFeatures})`;
  return `its traffic looks like a farm's but it holds no SIM line of its own (none of ${lineHostingFeatures.join(', ')} fired): `
    + 'it places or carries the calls, as the softswitch that drives a farm does';
}
