/**
 * SIP call tracker (issue 5): SIP observations in, one CallRecord per call attempt out.
 *
 *   SipObservation ─► call method? (INVITE/ACK/BYE/CANCEL/UPDATE/PRACK/INFO, or a response to one)
 *                        │ no: return (REGISTER, OPTIONS, MESSAGE, SUBSCRIBE, … cost a Set lookup)
 *                        ▼
 *                     leg = Call-ID + sender ip:port of the INVITE (a proxy forwarding with the same
 *                        │   Call-ID makes a second leg: its own UAC, its own record)
 *                        ├─ INVITE … 18x … final (2xx | 3xx-6xx) … BYE/CANCEL ─► onCallClosed(CallRecord)
 *                        └─ every SDP (offer or answer) ─► onMedia(MediaExpectation)
 *
 * What is kept: open legs only (at most maxOpenCalls), each a few small strings capped at 128
 * chars, plus a fixed-size ring of recently closed Call-IDs (no record, only the INVITE sender and
 * CSeq) so that the stragglers of a closed call (BYE retransmission, 200 to BYE, ACK to a non-2xx,
 * INVITE retransmitted after its final) are neither orphans nor new calls.
 *
 * Times are capture times (ms). RFC 3261 sections are cited where a rule comes from.
 */
import type { CallOutcome, CallRecord, CallTrackerStats, MediaExpectation } from './types.js';
import type { Endpoint, SdpSummary, SipObservation } from '../protocols/types.js';

export interface CallTrackerOptions {
  /** Open legs at most (default 50 000); INVITEs beyond are counted in droppedAtCap. */
  maxOpenCalls?: number;
  /** No final response for this long after the last message of the leg → closed 'unfinished' (default 180 s, RFC 3261 §16.6 Timer C). */
  inviteTimeoutMs?: number;
  /** Answered and no BYE this long after the answer → closed 'unfinished' (default 4 h). */
  maxCallMs?: number;
  onCallClosed: (c: CallRecord) => void;
  /** Every SDP (offer and answer) of a tracked leg: where media for the call will go. */
  onMedia?: (e: MediaExpectation) => void;
}

/**
 * How long an outcome waits for a message that may still come: the 487 after a CANCEL, the new
 * INVITE after a 401/407 challenge. 64·T1 = 32 s is how long a client transaction waits (RFC 3261
 * §9.1 for CANCEL, §17.1.1.2 Timer B).
 */
const GRACE_MS = 32_000;
/** Strings kept in records (Call-ID, agents, host:port). */
const MAX_STRING = 128;
/** URI user parts (caller, callee). */
const MAX_USER = 64;
const MAX_FRAMES = 8;
/** Frames kept for challenge round trips, so that the 18x, final and BYE still fit in MAX_FRAMES. */
const MAX_CHALLENGE_FRAMES = 5;
const MAX_CODECS = 16;
/** Recently closed Call-IDs remembered to recognise stragglers. */
const RECENT_CAP = 8_192;
/** sweep() scans the open legs at most once per this much capture time. */
const SWEEP_EVERY_MS = 1_000;

/** Requests that belong to an INVITE dialog (RFC 3261 §13-§15, RFC 3262 PRACK, RFC 3311 UPDATE, RFC 6086 INFO). */
const CALL_METHODS: ReadonlySet<string> = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'PRACK', 'INFO']);

/**
 * Final responses that do not end the attempt: the UAC answers them with a new INVITE (new CSeq,
 * same Call-ID): 401/407 credentials (RFC 3261 §22.2, §22.3), 422 Session Interval Too Small
 * (RFC 4028 §6).
 */
const RETRYABLE: ReadonlySet<number> = new Set([401, 407, 422]);

type Side = 'uac' | 'uas';

interface Leg {
  callId: string;
  uac: Endpoint;
  uas: Endpoint;
  file: number;
  frames: number[];
  caller?: string;
  toUser?: string;
  requestUser?: string;
  callee?: string;
  requestHostPort?: string;
  inviteTs: number;
  lastTs: number;
  ringingTs?: number;
  answerTs?: number;
  /** Status and time of the last final response (a pending challenge's until the next INVITE). */
  finalTs?: number;
  finalStatus?: number;
  uacAgent?: string;
  uasAgent?: string;
  /** Highest INVITE CSeq number from the UAC. */
  inviteCseq: number;
  /** CSeq number of the INVITE that got the 2xx. */
  answerCseq?: number;
  /** Highest re-INVITE CSeq number from the UAS side (its own CSeq space, §12.2.1.1). */
  uasInviteCseq?: number;
  /** A 401/407/422 waiting for the UAC's new INVITE. */
  challengeTs?: number;
  /** First CANCEL (or BYE on an early dialog) waiting for the 487. */
  cancelTs?: number;
  endedBy?: Side;
  offerSide?: Side;
  offered: string[];
  offerPtime?: number;
  answerCodec?: string;
  answerPtime?: number;
  /** Offer/answer of the initial INVITE is complete; later SDPs only announce media. */
  negotiated: boolean;
}

/** A closed (or refused) leg, remembered by Call-ID: its UAC and highest INVITE CSeq. */
interface Recent {
  sender: string;
  cseq: number;
  dropped: boolean;
}

interface Match {
  leg: Leg;
  side: Side;
  /** Bits: 8 the required host, 4 the other host, 2 the required port, 1 the other port. */
  score: number;
}

export class CallTracker {
  readonly stats: CallTrackerStats = { calls: 0, open: 0, retransmissions: 0, reinvites: 0, orphans: 0, droppedAtCap: 0, timedOut: 0 };
  private readonly maxOpen: number;
  private readonly inviteTimeoutMs: number;
  private readonly maxCallMs: number;
  private readonly graceMs: number;
  private readonly onCallClosed: (c: CallRecord) => void;
  private readonly onMedia: ((e: MediaExpectation) => void) | undefined;
  /** Open legs by (capped) Call-ID; usually one leg, two or more through a proxy. */
  private readonly legs = new Map<string, Leg[]>();
  private readonly recent = new Map<string, Recent>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(opts: CallTrackerOptions) {
    this.maxOpen = Math.max(0, opts.maxOpenCalls ?? 50_000);
    this.inviteTimeoutMs = opts.inviteTimeoutMs ?? 180_000;
    this.maxCallMs = opts.maxCallMs ?? 4 * 3_600_000;
    this.graceMs = Math.min(GRACE_MS, this.inviteTimeoutMs);
    this.onCallClosed = opts.onCallClosed;
    this.onMedia = opts.onMedia;
  }

  observe(o: SipObservation): void {
    if (o.isRequest) {
      const method = o.method;
      if (method === undefined) return;
      const m = CALL_METHODS.has(method) ? method : method.toUpperCase();
      if (!CALL_METHODS.has(m)) return;
      const cseq = parseCseq(o.cseq);
      if (o.callId === undefined || o.callId.trim() === '' || cseq === undefined || cseq.method.toUpperCase() !== m) {
        // Missing or broken Call-ID/CSeq, or a CSeq method that is not the request's (§8.1.1.5).
        this.stats.orphans++;
        return;
      }
      const callId = cap(o.callId.trim(), MAX_STRING);
      if (m === 'INVITE') this.invite(o, callId, cseq.seq);
      else this.inDialogRequest(o, callId, m, cseq.seq);
      return;
    }
    if (o.status === undefined) return;
    const cseq = parseCseq(o.cseq);
    if (cseq === undefined) {
      this.stats.orphans++;
      return;
    }
    const method = cseq.method.toUpperCase();
    if (!CALL_METHODS.has(method)) return;
    if (o.callId === undefined || o.callId.trim() === '') {
      this.stats.orphans++;
      return;
    }
    const callId = cap(o.callId.trim(), MAX_STRING);
    this.response(o, callId, method, cseq.seq, o.status);
  }

  /** Capture-time timeouts. Scans the open legs at most once per second of capture time. */
  sweep(now: number): void {
    if (now >= this.lastSweep && now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    const due: Array<() => void> = [];
    for (const list of this.legs.values()) {
      for (const leg of list) {
        if (leg.answerTs === undefined && leg.cancelTs !== undefined) {
          if (now >= leg.cancelTs + this.graceMs) due.push(() => this.closeCancelled(leg));
        } else if (leg.answerTs !== undefined) {
          if (now >= leg.answerTs + this.maxCallMs) due.push(() => this.closeOpen(leg, true));
        } else if (leg.challengeTs !== undefined) {
          // The UAC did not retry with credentials (§22.2): the challenge is the attempt's final.
          if (now >= leg.challengeTs + this.graceMs) {
            due.push(() => this.close(leg, 'rejected', leg.challengeTs ?? leg.lastTs));
          }
        } else if (now >= leg.lastTs + this.inviteTimeoutMs) {
          due.push(() => this.closeOpen(leg, true));
        }
      }
    }
    for (const closeIt of due) closeIt();
  }

  /** End of input: close every open leg as it stands. */
  flush(): void {
    const all: Leg[] = [];
    for (const list of this.legs.values()) all.push(...list);
    for (const leg of all) {
      if (leg.answerTs === undefined && leg.cancelTs !== undefined) this.closeCancelled(leg);
      else this.closeOpen(leg, false);
    }
  }

  /** Copies of the open legs as flush() would close them, without closing them. */
  snapshot(): CallRecord[] {
    const out: CallRecord[] = [];
    for (const list of this.legs.values()) {
      for (const leg of list) {
        if (leg.answerTs === undefined && leg.cancelTs !== undefined) out.push(this.record(leg, this.cancelOutcome(leg), leg.cancelTs));
        else out.push(this.record(leg, 'unfinished', leg.lastTs));
      }
    }
    return out;
  }

  // ───────────────────────────── requests ─────────────────────────────

  private invite(o: SipObservation, callId: string, seq: number): void {
    const match = this.match(callId, o);
    if (match !== undefined && match.side === 'uac' && ((match.score & 2) !== 0 || (match.score & 4) !== 0)) {
      const leg = match.leg;
      touch(leg, o);
      if (seq <= leg.inviteCseq) {
        // Same CSeq from the same UAC: a retransmission (§17.1.1.2 Timer A), or a late copy of an older one.
        this.stats.retransmissions++;
        return;
      }
      leg.inviteCseq = seq;
      this.agent(leg, 'uac', o);
      if (leg.answerTs !== undefined) {
        // A new INVITE inside the established dialog: a re-INVITE (§14.1) only changes media.
        this.stats.reinvites++;
        this.media(leg, o, 'uac', false);
        return;
      }
      // A new INVITE of the same attempt (after a 401/407 challenge, §22.2): the attempt goes on,
      // its inviteTs stays the first INVITE's.
      leg.challengeTs = undefined;
      leg.finalStatus = undefined;
      leg.finalTs = undefined;
      if (leg.frames.length < MAX_CHALLENGE_FRAMES) addFrame(leg, o);
      this.media(leg, o, 'uac', true);
      return;
    }
    if (match !== undefined && match.side === 'uas' && (match.score & 4) !== 0 && match.leg.answerTs !== undefined) {
      // The callee's re-INVITE (§14.1), numbered in its own CSeq space (§12.2.1.1).
      const leg = match.leg;
      touch(leg, o);
      if (leg.uasInviteCseq !== undefined && seq <= leg.uasInviteCseq) {
        this.stats.retransmissions++;
        return;
      }
      leg.uasInviteCseq = seq;
      this.stats.reinvites++;
      this.agent(leg, 'uas', o);
      this.media(leg, o, 'uas', false);
      return;
    }
    const sender = endpointKey(o.device);
    const recent = this.recent.get(callId);
    if (recent !== undefined && recent.sender === sender && seq <= recent.cseq) {
      // The INVITE of a call already closed (its final was lost on the way back) or refused at the cap.
      if (!recent.dropped) this.stats.retransmissions++;
      return;
    }
    if (this.stats.open >= this.maxOpen) {
      this.stats.droppedAtCap++;
      this.remember(callId, sender, seq, true);
      return;
    }
    this.open(o, callId, seq);
  }

  private open(o: SipObservation, callId: string, seq: number): void {
    const leg: Leg = {
      callId,
      uac: copyEndpoint(o.device),
      uas: copyEndpoint(o.peer ?? { ip: '' }),
      file: o.ref.file,
      frames: [],
      inviteTs: o.ts,
      lastTs: o.ts,
      inviteCseq: seq,
      offered: [],
      negotiated: false,
    };
    const caller = o.from !== undefined ? uriUser(o.from) : undefined;
    const toUser = o.to !== undefined ? uriUser(o.to) : undefined;
    const requestUser = o.requestUri !== undefined ? uriUser(o.requestUri) : undefined;
    if (caller !== undefined) leg.caller = caller;
    if (toUser !== undefined) leg.toUser = toUser;
    if (requestUser !== undefined) leg.requestUser = requestUser;
    const callee = (requestUser !== undefined ? phoneDigits(requestUser) : undefined) ?? (toUser !== undefined ? phoneDigits(toUser) : undefined);
    if (callee !== undefined) leg.callee = callee;
    const hostPort = o.requestUri !== undefined ? uriHostPort(o.requestUri) : undefined;
    if (hostPort !== undefined) leg.requestHostPort = hostPort;
    addFrame(leg, o);
    this.agent(leg, 'uac', o);
    const list = this.legs.get(callId);
    if (list === undefined) this.legs.set(callId, [leg]);
    else list.push(leg);
    this.stats.open++;
    this.media(leg, o, 'uac', true);
  }

  private inDialogRequest(o: SipObservation, callId: string, method: string, seq: number): void {
    const match = this.match(callId, o);
    if (match === undefined) {
      // BYE/CANCEL of a call whose INVITE was not captured; stragglers of closed calls are expected.
      if ((method === 'BYE' || method === 'CANCEL') && !this.recent.has(callId)) this.stats.orphans++;
      return;
    }
    const { leg, side } = match;
    if ((match.score & 4) === 0 && this.recent.get(callId)?.sender === endpointKey(o.device)) {
      // Only one end fits, and the sender is the UAC of a leg of this Call-ID already closed: a
      // straggler of that leg (a BYE retransmitted after we closed it), not a message of this one.
      return;
    }
    touch(leg, o);
    this.agent(leg, side, o);
    switch (method) {
      case 'ACK':
        // ACK to a 2xx completes a late offer (§13.2.1: the answer is in the ACK when the offer was in the 2xx).
        if (leg.answerTs !== undefined && seq === leg.answerCseq) this.media(leg, o, side, !leg.negotiated);
        if (leg.answerTs !== undefined && seq === leg.answerCseq && leg.offerSide === 'uas') leg.negotiated = true;
        return;
      case 'CANCEL':
        // CANCEL has the INVITE's CSeq number (§9.1); it only matters before a final response.
        if (side !== 'uac' || leg.answerTs !== undefined || leg.cancelTs !== undefined) return;
        leg.cancelTs = o.ts;
        leg.endedBy = 'uac';
        addFrame(leg, o);
        return;
      case 'BYE':
        if (leg.answerTs === undefined) {
          // BYE on an early dialog (§15): the caller gives up like a CANCEL; the 487 decides.
          if (leg.cancelTs === undefined) {
            leg.cancelTs = o.ts;
            leg.endedBy = side;
            addFrame(leg, o);
          }
          return;
        }
        // §15.1.1: the dialog ends at the BYE; its 200 is not waited for.
        leg.endedBy = side;
        addFrame(leg, o);
        this.close(leg, 'answered', o.ts);
        return;
      default:
        // UPDATE (RFC 3311), PRACK (RFC 3262), INFO: only their SDP matters.
        this.media(leg, o, side, !leg.negotiated && leg.answerTs === undefined);
    }
  }

  // ───────────────────────────── responses ─────────────────────────────

  private response(o: SipObservation, callId: string, method: string, seq: number, status: number): void {
    const match = this.match(callId, o);
    if (match === undefined) {
      if (method === 'INVITE' && !this.recent.has(callId)) this.stats.orphans++;
      return;
    }
    const leg = match.leg;
    touch(leg, o);
    this.agent(leg, match.side, o);
    if (leg.uas.mac === undefined && o.device.mac !== undefined && o.device.ip === leg.uas.ip) leg.uas.mac = o.device.mac;
    if (match.side === 'uac') {
      // A response from the caller: to the callee's re-INVITE, UPDATE or BYE. Only its SDP matters.
      if (status >= 200 && status < 300 && (method === 'INVITE' || method === 'UPDATE')) this.media(leg, o, 'uac', false);
      return;
    }
    if (method !== 'INVITE') {
      // 200 to UPDATE/PRACK may carry an answer; 200 to BYE/CANCEL only says the leg is alive.
      if (status >= 200 && status < 300 && (method === 'UPDATE' || method === 'PRACK')) {
        this.media(leg, o, match.side, !leg.negotiated && leg.answerTs === undefined);
      }
      return;
    }
    if (status < 100 || status > 699) return;
    if (leg.answerTs !== undefined) {
      // Answered: a retransmitted 2xx (§13.3.1.4) or a response to a re-INVITE (media only).
      if (seq > (leg.answerCseq ?? 0) && status >= 200 && status < 300) this.media(leg, o, match.side, false);
      return;
    }
    if (seq < leg.inviteCseq) return; // a late response to an INVITE already superseded (challenged)
    if (status === 100) return;
    if (status < 200) {
      if ((status === 180 || status === 183) && leg.ringingTs === undefined) {
        leg.ringingTs = o.ts;
        addFrame(leg, o);
      }
      this.media(leg, o, 'uas', true);
      return;
    }
    if (status < 300) {
      leg.answerTs = o.ts;
      leg.answerCseq = seq;
      leg.finalTs = o.ts;
      leg.finalStatus = status;
      leg.cancelTs = undefined; // a 2xx that crossed the CANCEL wins (§9.1)
      leg.endedBy = undefined;
      leg.challengeTs = undefined;
      addFrame(leg, o);
      this.media(leg, o, 'uas', true);
      if (leg.offerSide === 'uac') leg.negotiated = true;
      return;
    }
    if (leg.challengeTs !== undefined) return; // the challenge retransmitted
    leg.finalTs = o.ts;
    leg.finalStatus = status;
    if (RETRYABLE.has(status) && leg.cancelTs === undefined) {
      leg.challengeTs = o.ts;
      if (leg.frames.length < MAX_CHALLENGE_FRAMES) addFrame(leg, o);
      return;
    }
    addFrame(leg, o);
    this.close(leg, finalOutcome(status, leg.ringingTs !== undefined), o.ts);
  }

  // ───────────────────────────── matching ─────────────────────────────

  /**
   * The open leg a message belongs to, and from which side it comes. From the UAC side it must come
   * from the UAC's host; from the UAS side it must go to the UAC's host (so a response to the INVITE
   * finds the leg whose UAC is its destination). Exact ports and the other host break ties: with two
   * legs through a proxy, the proxy's messages find the right one.
   */
  private match(callId: string, o: SipObservation): Match | undefined {
    const list = this.legs.get(callId);
    if (list === undefined) return undefined;
    const src = o.device;
    const dst = o.peer;
    let best: Match | undefined;
    for (const leg of list) {
      if (src.ip === leg.uac.ip) {
        let score = 8;
        if (src.port === leg.uac.port) score |= 2;
        if (dst !== undefined && dst.ip === leg.uas.ip) {
          score |= 4;
          if (dst.port === leg.uas.port) score |= 1;
        }
        if (best === undefined || score > best.score) best = { leg, side: 'uac', score };
      }
      if (dst !== undefined && dst.ip === leg.uac.ip) {
        let score = 8;
        if (dst.port === leg.uac.port) score |= 2;
        if (src.ip === leg.uas.ip) {
          score |= 4;
          if (src.port === leg.uas.port) score |= 1;
        }
        if (best === undefined || score > best.score) best = { leg, side: 'uas', score };
      }
    }
    return best;
  }

  // ───────────────────────────── media ─────────────────────────────

  /** Announce the SDP's media; while the initial offer/answer is open, also read codecs from it. */
  private media(leg: Leg, o: SipObservation, side: Side, initial: boolean): void {
    const sdp = o.sdp;
    if (sdp === undefined) return;
    this.announce(leg.callId, sdp, o.ts);
    if (!initial || leg.negotiated) return;
    const codecs = audioCodecs(sdp);
    const ptime = audioPtime(sdp);
    if (leg.offerSide === undefined || leg.offerSide === side) {
      // The offer (or the same side's newer copy of it, e.g. the INVITE re-sent after a 401).
      leg.offerSide = side;
      leg.offered = codecs;
      leg.offerPtime = ptime;
    } else {
      // The answer (RFC 3264 §6): a 2xx's answer replaces an earlier 18x's.
      if (codecs[0] !== undefined) leg.answerCodec = codecs[0];
      if (ptime !== undefined) leg.answerPtime = ptime;
    }
  }

  private announce(callId: string, sdp: SdpSummary, ts: number): void {
    const onMedia = this.onMedia;
    if (onMedia === undefined) return;
    for (const m of sdp.media) {
      // The media-level c= wins over the session-level one (RFC 4566 §5.7).
      const ip = m.connection ?? sdp.connection;
      // c=0.0.0.0 is the RFC 2543 hold (RFC 3264 §8.4): no media is expected.
      if (ip === undefined || ip === '' || ip === '0.0.0.0' || ip === '::') continue;
      // Port 0 rejects or disables the stream (RFC 3264 §6, §8.2).
      if (m.type.toLowerCase() !== 'audio' || m.port <= 0 || m.port > 65535) continue;
      const e: MediaExpectation = { ip, port: m.port, callId, payloads: mediaPayloads(m), ts };
      if (m.ptime !== undefined) e.ptimeMs = m.ptime;
      onMedia(e);
    }
  }

  // ───────────────────────────── closing ─────────────────────────────

  private agent(leg: Leg, side: Side, o: SipObservation): void {
    const value = o.isRequest ? o.userAgent : o.server;
    if (value === undefined || value.trim() === '') return;
    if (side === 'uac') leg.uacAgent ??= cap(value.trim(), MAX_STRING);
    else leg.uasAgent ??= cap(value.trim(), MAX_STRING);
  }

  private cancelOutcome(leg: Leg): CallOutcome {
    return leg.ringingTs !== undefined ? 'no-answer' : 'cancelled';
  }

  private closeCancelled(leg: Leg): void {
    this.close(leg, this.cancelOutcome(leg), leg.cancelTs ?? leg.lastTs);
  }

  /** Close a leg without a decided outcome: 'unfinished', up to the last message seen. */
  private closeOpen(leg: Leg, timedOut: boolean): void {
    if (timedOut) this.stats.timedOut++;
    this.close(leg, 'unfinished', leg.lastTs);
  }

  private close(leg: Leg, outcome: CallOutcome, endTs: number): void {
    const list = this.legs.get(leg.callId);
    if (list !== undefined) {
      const i = list.indexOf(leg);
      if (i !== -1) {
        list.splice(i, 1);
        this.stats.open--;
      }
      if (list.length === 0) this.legs.delete(leg.callId);
    }
    this.remember(leg.callId, endpointKey(leg.uac), leg.inviteCseq, false);
    this.stats.calls++;
    this.onCallClosed(this.record(leg, outcome, endTs));
  }

  private remember(callId: string, sender: string, cseq: number, dropped: boolean): void {
    this.recent.delete(callId);
    this.recent.set(callId, { sender, cseq, dropped });
    if (this.recent.size > RECENT_CAP) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  private record(leg: Leg, outcome: CallOutcome, endTs: number): CallRecord {
    const r: CallRecord = {
      callId: leg.callId,
      uac: { ...leg.uac },
      uas: { ...leg.uas },
      inviteTs: leg.inviteTs,
      endTs,
      outcome,
      offeredCodecs: [...leg.offered],
      ref: { file: leg.file, frames: [...leg.frames] },
    };
    if (leg.caller !== undefined) r.caller = leg.caller;
    if (leg.toUser !== undefined) r.toUser = leg.toUser;
    if (leg.requestUser !== undefined) r.requestUser = leg.requestUser;
    if (leg.callee !== undefined) r.callee = leg.callee;
    if (leg.requestHostPort !== undefined) r.requestHostPort = leg.requestHostPort;
    if (leg.ringingTs !== undefined) r.ringingTs = leg.ringingTs;
    if (leg.answerTs !== undefined) {
      r.answerTs = leg.answerTs;
      r.durationMs = Math.max(0, endTs - leg.answerTs);
    }
    if (leg.finalStatus !== undefined) r.finalStatus = leg.finalStatus;
    const setupEnd = leg.ringingTs ?? leg.finalTs;
    if (setupEnd !== undefined) r.setupDelayMs = Math.max(0, setupEnd - leg.inviteTs);
    if (leg.endedBy !== undefined) r.endedBy = leg.endedBy;
    const codec = leg.answerCodec ?? leg.offered[0];
    if (codec !== undefined) r.codec = codec;
    const ptime = leg.answerPtime ?? leg.offerPtime;
    if (ptime !== undefined) r.ptimeMs = ptime;
    if (leg.uacAgent !== undefined) r.uacAgent = leg.uacAgent;
    if (leg.uasAgent !== undefined) r.uasAgent = leg.uasAgent;
    return r;
  }
}

/** RFC 3261 §21 classes as call outcomes (487 after a CANCEL: the caller gave up, §9.1). */
function finalOutcome(status: number, rang: boolean): CallOutcome {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 480) return 'no-answer';
  if (status === 487) return rang ? 'no-answer' : 'cancelled';
  return 'rejected';
}

// ───────────────────────────── helpers ─────────────────────────────

function touch(leg: Leg, o: SipObservation): void {
  if (o.ts > leg.lastTs) leg.lastTs = o.ts;
}

/** The message's frame (the last one when it spanned several: where Wireshark shows it), same file only. */
function addFrame(leg: Leg, o: SipObservation): void {
  if (leg.frames.length >= MAX_FRAMES || o.ref.file !== leg.file) return;
  const frame = o.ref.frames[o.ref.frames.length - 1];
  if (frame !== undefined) leg.frames.push(frame);
}

function copyEndpoint(e: Endpoint): Endpoint {
  const c: Endpoint = { ip: cap(e.ip, MAX_STRING) };
  if (e.port !== undefined) c.port = e.port;
  if (e.mac !== undefined) c.mac = cap(e.mac, MAX_STRING);
  return c;
}

function endpointKey(e: Endpoint): string {
  return `${e.ip}|${e.port ?? ''}`;
}

function cap(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

/** CSeq = 1*DIGIT LWS Method (§20.16); the number fits 32 bits (§8.1.1.5). */
function parseCseq(value: string | undefined): { seq: number; method: string } | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(value);
  if (m === null) return undefined;
  const seq = Number(m[1]);
  if (seq > 0xffffffff) return undefined;
  return { seq, method: m[2]! };
}

const NOT_A_CODEC: ReadonlySet<string> = new Set(['TELEPHONE-EVENT', 'CN']);

/** Audio codec names of an SDP, in order, upper case, without telephone-event (RFC 4733) and CN (RFC 3389). */
function audioCodecs(sdp: SdpSummary): string[] {
  const out: string[] = [];
  const audio = sdp.media.filter((m) => m.type.toLowerCase() === 'audio');
  const live = audio.filter((m) => m.port !== 0);
  for (const m of live.length > 0 ? live : audio) {
    for (const c of m.codecs) {
      const name = cap(c.toUpperCase(), MAX_STRING);
      if (NOT_A_CODEC.has(name) || out.includes(name)) continue;
      if (out.length >= MAX_CODECS) return out;
      out.push(name);
    }
  }
  return out;
}

function audioPtime(sdp: SdpSummary): number | undefined {
  return sdp.media.find((m) => m.type.toLowerCase() === 'audio' && m.port !== 0 && m.ptime !== undefined)?.ptime;
}

/** RFC 3551 §6 static audio payload types: name and RTP clock rate. */
const STATIC_AUDIO: ReadonlyMap<number, [string, number]> = new Map([
  [0, ['PCMU', 8000]], [3, ['GSM', 8000]], [4, ['G723', 8000]], [5, ['DVI4', 8000]], [6, ['DVI4', 16000]],
  [7, ['LPC', 8000]], [8, ['PCMA', 8000]], [9, ['G722', 8000]], [10, ['L16', 44100]], [11, ['L16', 44100]],
  [12, ['QCELP', 8000]], [13, ['CN', 8000]], [14, ['MPA', 90000]], [15, ['G728', 8000]], [16, ['DVI4', 11025]],
  [17, ['DVI4', 22050]], [18, ['G729', 8000]],
]);

/** Payload types summarizeSdp names without an rtpmap (its RFC 3551 table, audio and video). */
const SUMMARY_NAMED: ReadonlySet<number> = new Set([0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 25, 26, 28, 31, 32, 33, 34]);

/** Clock rates fixed by the payload format whatever the rtpmap says elsewhere (RFC 7587 opus, RFC 4867 AMR, RFC 3952 iLBC). */
const NAMED_RATES: ReadonlyMap<string, number> = new Map([
  ['PCMU', 8000], ['PCMA', 8000], ['G729', 8000], ['GSM', 8000], ['G723', 8000], ['G722', 8000],
  ['OPUS', 48000], ['AMR', 8000], ['AMR-WB', 16000], ['ILBC', 8000],
]);

/** Payload types with names and clock rates: from the m= section's a=rtpmap lines when it has them, else inferred. */
function mediaPayloads(m: SdpSummary['media'][number]): MediaExpectation['payloads'] {
  if (m.rtpmap === undefined) return payloadNames(m.payloads, m.codecs);
  const out: MediaExpectation['payloads'] = [];
  for (const pt of m.payloads.slice(0, 32)) {
    const r = m.rtpmap.find((x) => x.pt === pt);
    const name = r?.codec ?? STATIC_AUDIO.get(pt)?.[0];
    const entry: MediaExpectation['payloads'][number] = { pt };
    if (name !== undefined) entry.codec = cap(name, MAX_STRING);
    const rate = r?.rate ?? STATIC_AUDIO.get(pt)?.[1] ?? (name !== undefined ? NAMED_RATES.get(name.toUpperCase()) : undefined);
    if (rate !== undefined) entry.clockRate = rate;
    out.push(entry);
  }
  return out;
}

/**
 * Payload type → codec name. SdpSummary lists names only for the payloads it could name (rtpmap or
 * the static table), so the two lists line up only when nothing was left out; otherwise the static
 * payload types keep their table name and the dynamic ones stay unnamed.
 */
function payloadNames(payloads: number[], codecs: string[]): MediaExpectation['payloads'] {
  const out: MediaExpectation['payloads'] = [];
  const aligned = codecs.length === payloads.length;
  const staticCount = payloads.filter((pt) => SUMMARY_NAMED.has(pt)).length;
  const onlyStaticNamed = !aligned && codecs.length === staticCount;
  let ci = 0;
  for (const pt of payloads) {
    const entry: MediaExpectation['payloads'][number] = { pt };
    let name: string | undefined;
    if (aligned) name = codecs[ci++];
    else if (onlyStaticNamed && SUMMARY_NAMED.has(pt)) name = codecs[ci++];
    else name = STATIC_AUDIO.get(pt)?.[0];
    if (name !== undefined) entry.codec = cap(name, MAX_STRING);
    const rate = STATIC_AUDIO.get(pt)?.[1] ?? (name !== undefined ? NAMED_RATES.get(name.toUpperCase()) : undefined);
    if (rate !== undefined) entry.clockRate = rate;
    out.push(entry);
    if (out.length >= 32) break;
  }
  return out;
}

// ───────────────────────────── URIs ─────────────────────────────

/**
 * The URI of a name-addr or addr-spec (RFC 3261 §20.10, §25.1): inside <> when present (a display
 * name may be quoted and hold '<'), else the value up to the first ';' (header parameters).
 * A Request-URI has no header parameters but never has a space either, so the same rule reads it
 * up to its URI parameters, which is all uriUser/uriHostPort need.
 */
function uriOf(value: string): string | undefined {
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === '<') {
      const gt = value.indexOf('>', i + 1);
      return gt === -1 ? undefined : value.slice(i + 1, gt).trim();
    }
  }
  if (quoted) return undefined;
  return value.trim();
}

/** Scheme and the rest, for sip:, sips: and tel: (schemes are case-insensitive, RFC 3986 §3.1). */
function schemeOf(uri: string): { scheme: 'sip' | 'tel'; rest: string } | undefined {
  const colon = uri.indexOf(':');
  if (colon === -1) return undefined;
  const scheme = uri.slice(0, colon).trim().toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return { scheme: 'sip', rest: uri.slice(colon + 1) };
  if (scheme === 'tel') return { scheme: 'tel', rest: uri.slice(colon + 1) };
  return undefined;
}

/**
 * User part of a SIP/SIPS/TEL URI inside a From/To/Request-URI value ("Name" <sip:user@host>;tag=…),
 * percent-decoded, ≤64 chars; undefined when none.
 * The userinfo of sip: ends at '@' and loses ":password" (RFC 3261 §19.1.1); telephone-subscriber
 * parameters (";isub=", ";phone-context=", RFC 3966 §5.1) are cut from both sip: users and tel: numbers.
 */
export function uriUser(value: string): string | undefined {
  const uri = uriOf(value);
  if (uri === undefined) return undefined;
  const s = schemeOf(uri);
  if (s === undefined) return undefined;
  let user: string;
  if (s.scheme === 'sip') {
    const at = s.rest.indexOf('@');
    if (at === -1) return undefined; // sip:host has no user part
    user = s.rest.slice(0, at);
    const colon = user.indexOf(':');
    if (colon !== -1) user = user.slice(0, colon);
  } else {
    user = s.rest;
    const q = user.indexOf('?');
    if (q !== -1) user = user.slice(0, q);
  }
  const semi = user.indexOf(';');
  if (semi !== -1) user = user.slice(0, semi);
  user = percentDecode(user).trim();
  if (user === '') return undefined;
  return Array.from(user).slice(0, MAX_USER).join('');
}

/** host[:port] of a sip:/sips: URI as written, ≤128 chars; undefined for tel: or without a host. */
function uriHostPort(value: string): string | undefined {
  const uri = uriOf(value);
  if (uri === undefined) return undefined;
  const s = schemeOf(uri);
  if (s === undefined || s.scheme !== 'sip') return undefined;
  const at = s.rest.indexOf('@');
  const hostPart = at === -1 ? s.rest : s.rest.slice(at + 1);
  const end = hostPart.search(/[;?>\s]/);
  const hp = (end === -1 ? hostPart : hostPart.slice(0, end)).trim();
  return hp === '' ? undefined : cap(hp, MAX_STRING);
}

/** %XX escapes (RFC 3261 §25.1 "escaped") as UTF-8; a broken escape stays as written. */
function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  // A multi-byte UTF-8 character is always one run of escapes, so each run decodes on its own.
  const decoded = s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
  // Control characters have no place in a number or a name shown to a user.
  return decoded.replace(/[\u0000-\u001f\u007f]/g, '');
}

/**
 * Digits of a phone-number-like user part (optional leading +, visual separators - . ( ) and spaces
 * removed per RFC 3966 §5.1.1), else undefined.
 */
export function phoneDigits(user: string): string | undefined {
  const s = user.trim();
  const plus = s.startsWith('+');
  const body = plus ? s.slice(1) : s;
  if (!/^[0-9\-.() ]+$/.test(body)) return undefined;
  const digits = body.replace(/[\-.() ]/g, '');
  if (digits === '' || digits.length > 32) return undefined;
  return plus ? `+${digits}` : digits;
}
