/**
 * Per-device behaviour (issue 5, DESIGN §4 "Behaviour"): what one device does with its calls,
 * lines, SIMs and SMS, accumulated in bounded memory and evaluated into 14 features.
 *
 *   addCall ──► counters (all calls: attempts, ASR, durations, codecs, directions)
 *          └──► ring of the most recent limits.callsPerDevice calls (intervals: concurrency,
 *               line overlap, periodicity, hairpins)
 *   addRegistration ──► lines (≤ 4096 AORs, with Contact and source port for matching calls)
 *   addRtp ──► stream counters (codec, loss, jitter, ptime)
 *   addSim / addSms ──► per channel: IMSIs (≤ 64) and verification-code counters (no bodies)
 *                                   │
 *   profile(cfg, open) ─────────────┴──► evaluate (measures.ts) ──► BehaviourProfile
 *
 * profile() reads the state and never changes it: a live probe calls it periodically.
 * Calls are matched to lines at profile time, so a REGISTER seen after a call still counts.
 */
import type { EvidenceRef } from '../detect/model.js';
import { classifyVerificationSms } from '../modems/findings.js';
import { bounds, evaluate, LineIndex, LOW_BITRATE } from './measures.js';
import { normaliseNumber } from './numbers.js';
import type { BehaviourConfig, BehaviourProfile, CallOutcome, CallRecord, RtpStreamStats } from './types.js';

// The evaluation lives in measures.ts; these are re-exported so importers keep one entry point.
export { bounds };
export { featureOps, poissonCeiling } from './measures.js';

export type BehaviourLimits = BehaviourConfig['limits'];

/** A call as kept in the ring: only what intervals and matching need. */
export interface KeptCall {
  callId: string;
  role: 'uac' | 'uas';
  inviteTs: number;
  ringingTs?: number;
  answerTs?: number;
  endTs: number;
  outcome: CallOutcome;
  durationMs?: number;
  caller?: string;
  callee?: string;
  requestUser?: string;
  requestHostPort?: string;
  uacPort?: number;
  uasPort?: number;
  codec?: string;
  ref: EvidenceRef;
  open?: boolean;
}

export interface Registration {
  aor: string;
  user?: string;
  contactUser?: string;
  contactHostPort?: string;
  ports: number[];
  firstTs: number;
  lastTs: number;
  count: number;
  ref: EvidenceRef;
}

export interface Channel {
  imsis: Map<string, { firstTs: number; lastTs: number; ref: EvidenceRef }>;
  imsiOverflow: number;
  sms: number;
  codes: number;
  platforms: Map<string, number>;
  codeRefs: EvidenceRef[];
}

/** A fixed-capacity ring of the most recent items. */
class Ring<T> {
  private buf: T[] = [];
  private head = 0;
  readonly cap: number;
  constructor(cap: number) {
    this.cap = Math.max(1, Math.floor(cap));
  }
  push(x: T): void {
    if (this.buf.length < this.cap) this.buf.push(x);
    else {
      this.buf[this.head] = x;
      this.head = (this.head + 1) % this.cap;
    }
  }
  /** Oldest first (a copy). */
  toArray(): T[] {
    return this.head === 0 ? this.buf.slice() : [...this.buf.slice(this.head), ...this.buf.slice(0, this.head)];
  }
  get length(): number {
    return this.buf.length;
  }
  clear(): void {
    this.buf = [];
    this.head = 0;
  }
}

export function codecName(c: string | undefined): string | undefined {
  if (!c) return undefined;
  return c.trim().toUpperCase().split('/')[0] || undefined;
}

/** "host:port" with the default SIP port and a lower-case host. */
export function hostPort(s: string | undefined, defaultPort = 5060): string | undefined {
  if (!s) return undefined;
  const t = s.trim().toLowerCase();
  const m = /^(\[[^\]]+\]|[^:;>]+)(?::(\d+))?/.exec(t);
  if (!m) return undefined;
  return `${m[1]}:${m[2] ?? defaultPort}`;
}

/** User and host:port of the first URI in a Contact header value (RFC 3261 §20.10), if any. */
export function parseContact(contact: string | undefined): { user?: string; hostPort?: string } {
  if (!contact) return {};
  const angle = /<([^>]*)>/.exec(contact);
  const uri = (angle ? angle[1]! : contact.split(/[;,]/)[0]!).trim();
  const m = /^(sips?):(?:([^@]*)@)?([^;?>]+)/i.exec(uri);
  if (!m) return {};
  const user = m[2] ? decodeURIComponent(m[2].split(':')[0]!) : undefined;
  return { user, hostPort: hostPort(m[3], m[1]!.toLowerCase() === 'sips' ? 5061 : 5060) };
}

function aorUser(aor: string): string | undefined {
  const m = /^<?\s*(?:sips?|tel):([^@;>]+)/i.exec(aor.trim());
  return m ? m[1] : undefined;
}

export class DeviceBehaviour {
  readonly key: string;
  private limits: BehaviourLimits;
  private ring: Ring<KeptCall>;

  // Counters over every call ever added.
  private attempts = 0;
  private answered = 0;
  /** Attempts whose outcome is known (not unfinished without an answer). */
  private decided = 0;
  private originated = 0;
  private terminated = 0;
  private answeredDone = 0;
  private answeredDoneMs = 0;
  private censored: Ring<number>;
  private censoredTotal = 0;
  private codecs = new Map<string, number>();
  private codecCalls = 0;
  private lowCodecCalls = 0;
  private callees = new Map<string, number>();
  private calleeOverflow = 0;
  private firstInviteTs = Infinity;
  private lastEndTs = -Infinity;

  private registrations = new Map<string, Registration>();
  private registrationsDropped = 0;

  private rtpStreams = 0;
  private rtpExpected = 0;
  private rtpLost = 0;
  private jitter: Ring<number>;
  private ptimes = new Map<number, number>();
  private streamCodecs = 0;
  private lowCodecStreams = 0;

  private channels = new Map<string, Channel>();
  private channelsDropped = 0;
  private smsSeen = 0;

  private firstSeen = Infinity;
  private lastSeen = -Infinity;

  constructor(key: string, limits: BehaviourLimits) {
    this.key = key;
    this.limits = limits;
    this.ring = new Ring<KeptCall>(limits.callsPerDevice);
    this.censored = new Ring<number>(bounds.censored);
    this.jitter = new Ring<number>(bounds.jitterSamples);
  }

  private seen(ts: number): void {
    if (!Number.isFinite(ts)) return;
    if (ts < this.firstSeen) this.firstSeen = ts;
    if (ts > this.lastSeen) this.lastSeen = ts;
  }

  /** A closed call in which this device was the UAC ('uac': it sent the INVITE) or the UAS. */
  addCall(c: CallRecord, role: 'uac' | 'uas'): void {
    const k = keep(c, role);
    this.count(k, c.offeredCodecs);
    this.ring.push(k);
  }

  private count(k: KeptCall, offered: string[] | undefined): void {
    this.attempts++;
    if (k.role === 'uac') this.originated++;
    else this.terminated++;
    if (k.answerTs !== undefined) this.answered++;
    if (k.outcome !== 'unfinished' || k.answerTs !== undefined) this.decided++;
    if (k.outcome === 'answered' && k.durationMs !== undefined) {
      this.answeredDone++;
      this.answeredDoneMs += k.durationMs;
    } else if (k.answerTs !== undefined) {
      this.censored.push(Math.max(0, k.endTs - k.answerTs));
      this.censoredTotal++;
    }
    const codec = k.codec ?? codecName(offered?.[0]);
    if (codec) {
      this.codecs.set(codec, (this.codecs.get(codec) ?? 0) + 1);
      this.codecCalls++;
      if (LOW_BITRATE.test(codec)) this.lowCodecCalls++;
    }
    if (k.callee !== undefined) {
      const n = this.callees.get(k.callee);
      if (n !== undefined) this.callees.set(k.callee, n + 1);
      else if (this.callees.size < bounds.callees) this.callees.set(k.callee, 1);
      else this.calleeOverflow++;
    }
    if (k.inviteTs < this.firstInviteTs) this.firstInviteTs = k.inviteTs;
    if (k.endTs > this.lastEndTs) this.lastEndTs = k.endTs;
    this.seen(k.inviteTs);
    this.seen(k.endTs);
  }

  /** A REGISTER this device sent: aor = address-of-record URI, contact = raw Contact value, src port of the REGISTER. */
  addRegistration(aor: string, contact: string | undefined, port: number | undefined, ts: number, ref: EvidenceRef): void {
    const key = aor.trim().replace(/^<|>$/g, '');
    if (!key) return;
    this.seen(ts);
    const c = parseContact(contact);
    const have = this.registrations.get(key);
    if (have) {
      have.count++;
      have.firstTs = Math.min(have.firstTs, ts);
      have.lastTs = Math.max(have.lastTs, ts);
      // A de-registration ("*") keeps the last real Contact.
      if (c.hostPort) {
        have.contactHostPort = c.hostPort;
        have.contactUser = c.user;
      }
      if (port !== undefined && !have.ports.includes(port) && have.ports.length < 4) have.ports.push(port);
      return;
    }
    if (this.registrations.size >= bounds.registrations) {
      this.registrationsDropped++;
      return;
    }
    this.registrations.set(key, {
      aor: key, user: aorUser(key), contactUser: c.user, contactHostPort: c.hostPort,
      ports: port === undefined ? [] : [port], firstTs: ts, lastTs: ts, count: 1, ref,
    });
  }

  /** An RTP stream this device sent (role 'src') or received ('dst'). */
  addRtp(s: RtpStreamStats, role: 'src' | 'dst'): void {
    void role; // both directions describe the device's media; the caller adds each stream once per role
    this.rtpStreams++;
    this.rtpExpected += Math.max(0, s.expected);
    this.rtpLost += Math.max(0, s.lost);
    if (Number.isFinite(s.jitterMs)) this.jitter.push(s.jitterMs);
    if (s.ptimeMs !== undefined && (this.ptimes.has(s.ptimeMs) || this.ptimes.size < 64)) {
      this.ptimes.set(s.ptimeMs, (this.ptimes.get(s.ptimeMs) ?? 0) + 1);
    }
    const codec = codecName(s.codec);
    if (codec) {
      this.streamCodecs++;
      if (LOW_BITRATE.test(codec)) this.lowCodecStreams++;
    }
    this.seen(s.firstTs);
    this.seen(s.lastTs);
  }

  private channel(name: string): Channel | undefined {
    let ch = this.channels.get(name);
    if (!ch) {
      if (this.channels.size >= bounds.channels) {
        this.channelsDropped++;
        return undefined;
      }
      ch = { imsis: new Map(), imsiOverflow: 0, sms: 0, codes: 0, platforms: new Map(), codeRefs: [] };
      this.channels.set(name, ch);
    }
    return ch;
  }

  /** A SIM seen on one of this device's channels: one channel, one IMSI. */
  addSim(channel: string, imsi: string, ts: number, ref: EvidenceRef): void {
    this.seen(ts);
    const ch = this.channel(channel);
    if (!ch) return;
    const have = ch.imsis.get(imsi);
    if (have) {
      have.firstTs = Math.min(have.firstTs, ts);
      have.lastTs = Math.max(have.lastTs, ts);
    } else if (ch.imsis.size < bounds.imsisPerChannel) ch.imsis.set(imsi, { firstTs: ts, lastTs: ts, ref });
    else ch.imsiOverflow++;
  }

  /** An SMS this device received on a channel (only counters are kept, never the body). */
  addSms(channel: string, sender: string, body: string, ts: number, ref: EvidenceRef): void {
    this.seen(ts);
    this.smsSeen++;
    const ch = this.channel(channel);
    if (!ch) return;
    ch.sms++;
    const platform = classifyVerificationSms(sender, body);
    if (!platform) return;
    ch.codes++;
    if (ch.platforms.has(platform) || ch.platforms.size < 32) ch.platforms.set(platform, (ch.platforms.get(platform) ?? 0) + 1);
    if (ch.codeRefs.length < 2) ch.codeRefs.push(ref);
  }

  /** Merge another accumulator of the same physical device. */
  mergeFrom(other: DeviceBehaviour): void {
    if (other === this) return;
    const calls = new Map<string, KeptCall>();
    for (const k of [...this.ring.toArray(), ...other.ring.toArray()]) calls.set(`${k.callId}\u0000${k.role}`, k);
    const merged = [...calls.values()].sort((a, b) => a.endTs - b.endTs || a.inviteTs - b.inviteTs);
    this.ring.clear();
    for (const k of merged.slice(-this.ring.cap)) this.ring.push(k);

    this.attempts += other.attempts;
    this.answered += other.answered;
    this.decided += other.decided;
    this.originated += other.originated;
    this.terminated += other.terminated;
    this.answeredDone += other.answeredDone;
    this.answeredDoneMs += other.answeredDoneMs;
    for (const x of other.censored.toArray()) this.censored.push(x);
    this.censoredTotal += other.censoredTotal;
    for (const [c, n] of other.codecs) this.codecs.set(c, (this.codecs.get(c) ?? 0) + n);
    this.codecCalls += other.codecCalls;
    this.lowCodecCalls += other.lowCodecCalls;
    for (const [c, n] of other.callees) {
      const have = this.callees.get(c);
      if (have !== undefined) this.callees.set(c, have + n);
      else if (this.callees.size < bounds.callees) this.callees.set(c, n);
      else this.calleeOverflow += n;
    }
    this.calleeOverflow += other.calleeOverflow;
    this.firstInviteTs = Math.min(this.firstInviteTs, other.firstInviteTs);
    this.lastEndTs = Math.max(this.lastEndTs, other.lastEndTs);

    for (const [key, r] of other.registrations) {
      const have = this.registrations.get(key);
      if (!have) {
        if (this.registrations.size < bounds.registrations) this.registrations.set(key, { ...r, ports: [...r.ports] });
        else this.registrationsDropped++;
        continue;
      }
      have.count += r.count;
      if (r.lastTs >= have.lastTs && r.contactHostPort) {
        have.contactHostPort = r.contactHostPort;
        have.contactUser = r.contactUser;
      }
      have.firstTs = Math.min(have.firstTs, r.firstTs);
      have.lastTs = Math.max(have.lastTs, r.lastTs);
      for (const p of r.ports) if (!have.ports.includes(p) && have.ports.length < 4) have.ports.push(p);
    }
    this.registrationsDropped += other.registrationsDropped;

    this.rtpStreams += other.rtpStreams;
    this.rtpExpected += other.rtpExpected;
    this.rtpLost += other.rtpLost;
    for (const j of other.jitter.toArray()) this.jitter.push(j);
    for (const [p, n] of other.ptimes) if (this.ptimes.has(p) || this.ptimes.size < 64) this.ptimes.set(p, (this.ptimes.get(p) ?? 0) + n);
    this.streamCodecs += other.streamCodecs;
    this.lowCodecStreams += other.lowCodecStreams;

    for (const [name, o] of other.channels) {
      const ch = this.channel(name);
      if (!ch) continue;
      for (const [imsi, v] of o.imsis) {
        const have = ch.imsis.get(imsi);
        if (have) {
          have.firstTs = Math.min(have.firstTs, v.firstTs);
          have.lastTs = Math.max(have.lastTs, v.lastTs);
        } else if (ch.imsis.size < bounds.imsisPerChannel) ch.imsis.set(imsi, { ...v });
        else ch.imsiOverflow++;
      }
      ch.imsiOverflow += o.imsiOverflow;
      ch.sms += o.sms;
      ch.codes += o.codes;
      for (const [p, n] of o.platforms) if (ch.platforms.has(p) || ch.platforms.size < 32) ch.platforms.set(p, (ch.platforms.get(p) ?? 0) + n);
      for (const r of o.codeRefs) if (ch.codeRefs.length < 2) ch.codeRefs.push(r);
    }
    this.channelsDropped += other.channelsDropped;
    this.smsSeen += other.smsSeen;
    this.firstSeen = Math.min(this.firstSeen, other.firstSeen);
    this.lastSeen = Math.max(this.lastSeen, other.lastSeen);
  }

  /** Approximate retained items, for tests of the bounds. */
  size(): { calls: number; lines: number; sims: number } {
    let sims = 0;
    for (const ch of this.channels.values()) sims += ch.imsis.size;
    return { calls: this.ring.length, lines: this.registrations.size, sims };
  }

  /** Evaluate (reads the state, never changes it). `open` = snapshots of calls still in progress. */
  profile(cfg: BehaviourConfig, open: Array<{ call: CallRecord; role: 'uac' | 'uas' }> = []): BehaviourProfile {
    return evaluate(this.view(open), cfg);
  }

  /** A read-only view of the state plus the open calls, for evaluate(). */
  private view(open: Array<{ call: CallRecord; role: 'uac' | 'uas' }>): View {
    // An open call runs until now; the snapshot's endTs is only its last SIP message. "Now" is the
    // latest capture time this device or any of its open calls has shown.
    let now = this.lastSeen;
    for (const o of open) now = Math.max(now, o.call.endTs);
    const openKept = open.map((o): KeptCall => {
      const k = { ...keep(o.call, o.role), open: true };
      k.endTs = Math.max(k.endTs, now);
      return k;
    });
    let firstInviteTs = this.firstInviteTs;
    let lastEndTs = this.lastEndTs;
    let firstSeen = this.firstSeen;
    let lastSeen = this.lastSeen;
    for (const k of openKept) {
      firstInviteTs = Math.min(firstInviteTs, k.inviteTs);
      lastEndTs = Math.max(lastEndTs, k.endTs);
      firstSeen = Math.min(firstSeen, k.inviteTs);
      lastSeen = Math.max(lastSeen, k.endTs);
    }
    const codecs: Record<string, number> = Object.fromEntries([...this.codecs].sort((a, b) => b[1] - a[1]));
    let codecCalls = this.codecCalls;
    let lowCodecCalls = this.lowCodecCalls;
    const extraCallees: string[] = [];
    for (const k of openKept) {
      if (k.codec) {
        codecs[k.codec] = (codecs[k.codec] ?? 0) + 1;
        codecCalls++;
        if (LOW_BITRATE.test(k.codec)) lowCodecCalls++;
      }
      if (k.callee !== undefined) extraCallees.push(k.callee);
    }
    return {
      key: this.key,
      calls: [...this.ring.toArray(), ...openKept],
      attempts: this.attempts + openKept.length,
      answered: this.answered + openKept.filter((k) => k.answerTs !== undefined).length,
      decided: this.decided + openKept.filter((k) => k.answerTs !== undefined).length,
      originated: this.originated + openKept.filter((k) => k.role === 'uac').length,
      terminated: this.terminated + openKept.filter((k) => k.role === 'uas').length,
      answeredDone: this.answeredDone,
      answeredDoneMs: this.answeredDoneMs,
      censored: [
        ...this.censored.toArray(),
        ...openKept.filter((k) => k.answerTs !== undefined).map((k) => Math.max(0, k.endTs - k.answerTs!)),
      ],
      censoredTotal: this.censoredTotal + openKept.filter((k) => k.answerTs !== undefined).length,
      codecs, codecCalls, lowCodecCalls,
      callees: this.callees, extraCallees, calleeOverflow: this.calleeOverflow,
      firstInviteTs, lastEndTs,
      registrations: [...this.registrations.values()],
      registrationsDropped: this.registrationsDropped,
      rtp: {
        streams: this.rtpStreams, expected: this.rtpExpected, lost: this.rtpLost, jitter: this.jitter.toArray(),
        ptimes: this.ptimes, codecStreams: this.streamCodecs, lowCodecStreams: this.lowCodecStreams,
      },
      channels: this.channels,
      smsSeen: this.smsSeen,
      firstSeen, lastSeen,
    };
  }
}

function keep(c: CallRecord, role: 'uac' | 'uas'): KeptCall {
  const callee = c.callee !== undefined ? normaliseNumber(c.callee) : undefined;
  const caller = c.caller !== undefined ? normaliseNumber(c.caller) : undefined;
  return {
    callId: c.callId, role, inviteTs: c.inviteTs, ringingTs: c.ringingTs, answerTs: c.answerTs, endTs: Math.max(c.endTs, c.inviteTs),
    outcome: c.outcome, durationMs: c.durationMs, caller: caller || undefined, callee: callee || undefined,
    requestUser: c.requestUser, requestHostPort: hostPort(c.requestHostPort), uacPort: c.uac.port, uasPort: c.uas.port,
    codec: codecName(c.codec ?? c.offeredCodecs?.[0]), ref: { file: c.ref.file, frames: c.ref.frames.slice(0, 8) },
  };
}

export interface View {
  key: string;
  calls: KeptCall[];
  attempts: number;
  answered: number;
  decided: number;
  originated: number;
  terminated: number;
  answeredDone: number;
  answeredDoneMs: number;
  censored: number[];
  censoredTotal: number;
  codecs: Record<string, number>;
  codecCalls: number;
  lowCodecCalls: number;
  callees: ReadonlyMap<string, number>;
  extraCallees: string[];
  calleeOverflow: number;
  firstInviteTs: number;
  lastEndTs: number;
  registrations: Registration[];
  registrationsDropped: number;
  rtp: {
    streams: number; expected: number; lost: number; jitter: number[]; ptimes: ReadonlyMap<number, number>;
    codecStreams: number; lowCodecStreams: number;
  };
  channels: ReadonlyMap<string, Channel>;
  smsSeen: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * The registered line (AOR) each call used, as profile() matches them: for tests and for showing
 * lines next to calls. Registrations are given as addRegistration() would receive them.
 */
export function matchLines(
  regs: Array<{ aor: string; contact?: string; port?: number }>,
  calls: Array<{ call: CallRecord; role: 'uac' | 'uas' }>,
): Array<string | undefined> {
  const index = new LineIndex(regs.map((r) => {
    const c = parseContact(r.contact);
    const aor = r.aor.trim().replace(/^<|>$/g, '');
    return {
      aor, user: aorUser(aor), contactUser: c.user, contactHostPort: c.hostPort, ports: r.port === undefined ? [] : [r.port],
      firstTs: 0, lastTs: 0, count: 1, ref: { file: 0, frames: [] },
    };
  }));
  return calls.map((c) => index.match(keep(c.call, c.role)));
}
