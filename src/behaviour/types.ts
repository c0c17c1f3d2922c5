/**
 * Behaviour detection (issue 5, DESIGN §4 "Behaviour"): what a device does, not what it says.
 *
 *   SipObservation ──► CallTracker (dialogs: INVITE … final … BYE/CANCEL; bounded) ──► CallRecord ─┐
 *                         └─ SDP offer/answer ──► MediaExpectation ──┐                           │
 *   RTP-like UDP (hot path) ──► RtpTracker (per stream, RFC 3550) ◄──┘──► RtpStreamStats ─────────┤
 *   REGISTER, GoIP keep-alive (IMSI per channel), SMS ────────────────────────────────────────────┤
 *                                                                                                 ▼
 *                             DeviceBehaviour (per device, bounded accumulators) ──► BehaviourProfile
 *                                                                                   (features, score)
 *
 * Everything is keyed by capture time (`ts`, ms), never the wall clock, so a replay gives the same
 * answer every time and a live probe with a wrong clock still measures durations correctly.
 * These types are the seams between the modules; each module owns its own state.
 */
import type { Endpoint } from '../protocols/types.js';
import type { EvidenceRef } from '../detect/model.js';

// ───────────────────────────── RTP ─────────────────────────────

/** How a stream was recognised as RTP. */
export type RtpFoundBy = 'sdp' | 'heuristic';

/** Statistics of one RTP stream (one SSRC from one source transport address). */
export interface RtpStreamStats {
  src: Endpoint;
  dst: Endpoint;
  ssrc: number;
  /** The payload type seen most (RFC 3550 §5.1 PT, 7 bits). */
  payloadType: number;
  /** Packets per payload type (RFC 2833/4733 telephone-event and CN are separate PTs). */
  payloadTypes: Record<number, number>;
  /** Codec name of `payloadType`: from the SDP rtpmap when matched, else the RFC 3551 static table. */
  codec?: string;
  /** RTP clock rate used for jitter (from SDP, else the static table, else 8000). */
  clockRate: number;
  packets: number;
  /** RTP payload bytes (after the header, CSRCs and extension; padding removed when its count byte is sane). */
  payloadBytes: number;
  /** Extended highest sequence − base + 1 (RFC 3550 §A.3). */
  expected: number;
  /** expected − received, never below 0 (duplicates can make the raw value negative). */
  lost: number;
  /** Interarrival jitter (RFC 3550 §6.4.1 / §A.8) converted to milliseconds. */
  jitterMs: number;
  /** Packetisation time: the most common timestamp step ÷ clock rate, in ms (undefined with < 2 packets). */
  ptimeMs?: number;
  firstTs: number;
  lastTs: number;
  /** Capture file index and the first and last frame numbers of the stream. */
  ref: EvidenceRef;
  foundBy: RtpFoundBy;
  /** The SIP call whose SDP announced the destination, when one did. */
  callId?: string;
  /** True when the stream was still open (snapshot) rather than closed by idle timeout or end of input. */
  open?: boolean;
}

/** What an SDP body announces: media for `callId` will be sent to ip:port. */
export interface MediaExpectation {
  ip: string;
  port: number;
  callId: string;
  /** Payload type → codec name and clock rate, from a=rtpmap or the static table. */
  payloads: Array<{ pt: number; codec?: string; clockRate?: number }>;
  ptimeMs?: number;
  ts: number;
}

export interface RtpTrackerStats {
  /** Streams ever opened (SDP-matched or heuristic). */
  streams: number;
  /** Streams open right now. */
  open: number;
  /** Packets that were RTCP (PT 72-76 with the marker bit, i.e. 200-204; RFC 5761 §4). */
  rtcp: number;
  /** Packets dropped because the stream table was full (counted, never grown past the cap). */
  droppedAtCap: number;
  /** Candidate streams that never passed the heuristic (counted when they time out). */
  rejected: number;
}

// ───────────────────────────── SIP calls ─────────────────────────────

export type CallOutcome =
  | 'answered'
  /** 486/600 */
  | 'busy'
  /** 408/480 or no final response, or cancelled after ringing */
  | 'no-answer'
  /** CANCEL before any final response */
  | 'cancelled'
  /** Other 4xx/5xx/6xx */
  | 'rejected'
  /** Capture ended or state timed out before a final response, or an answered call without BYE */
  | 'unfinished';

/** One INVITE dialog (one call attempt), as seen on the wire. */
export interface CallRecord {
  callId: string;
  /** Sender of the initial INVITE (its IP and SIP port; mac when the link layer showed it). */
  uac: Endpoint;
  /** Receiver of the initial INVITE. */
  uas: Endpoint;
  /** User part of the From URI (the caller as signalled), unescaped, at most 64 chars. */
  caller?: string;
  /** User part of the To URI. */
  toUser?: string;
  /** User part of the Request-URI of the initial INVITE. */
  requestUser?: string;
  /**
   * The dialled number: the Request-URI user when it is phone-number-like (digits with an optional
   * leading +, possibly after a routing prefix), else the To user when that is; else undefined.
   */
  callee?: string;
  /** Request-URI host and port as written (the contact the INVITE was sent to), e.g. `192.168.50.20:5062`. */
  requestHostPort?: string;
  inviteTs: number;
  /** First 180/183. */
  ringingTs?: number;
  /** 2xx to the INVITE. */
  answerTs?: number;
  /** BYE, CANCEL, final non-2xx, or the timeout that closed the record. */
  endTs: number;
  outcome: CallOutcome;
  /** Final status code of the INVITE transaction, when one was seen. */
  finalStatus?: number;
  /** INVITE → first 18x or, without one, → final response (post-dial delay), ms. */
  setupDelayMs?: number;
  /** answerTs → endTs, ms, for answered calls. */
  durationMs?: number;
  /** Who hung up an answered call (sender of the BYE). */
  endedBy?: 'uac' | 'uas';
  /** Codecs of the offer, in order (names, upper case). */
  offeredCodecs: string[];
  /** The codec of the answer's first audio payload (what was used), else the offer's first. */
  codec?: string;
  ptimeMs?: number;
  /** User-Agent or Server of each side, when sent. */
  uacAgent?: string;
  uasAgent?: string;
  /** INVITE, 18x, final, BYE/CANCEL frames (at most 8, in order). */
  ref: EvidenceRef;
}

export interface CallTrackerStats {
  /** Call records produced (closed). */
  calls: number;
  /** Dialogs open now. */
  open: number;
  /** INVITE retransmissions (same Call-ID, CSeq, sender) ignored. */
  retransmissions: number;
  /** Re-INVITEs inside an established dialog (media updates, not new calls). */
  reinvites: number;
  /** Responses/BYE/CANCEL with no known dialog (the INVITE was not captured). */
  orphans: number;
  /** New dialogs refused because the table was full (counted, never grown past the cap). */
  droppedAtCap: number;
  /** Dialogs closed by timeout rather than by signalling. */
  timedOut: number;
}

// ───────────────────────────── Behaviour ─────────────────────────────

export const featureNames = [
  'lines',
  'concurrency',
  'lineSaturation',
  'attemptRate',
  'answerRatio',
  'callDuration',
  'mobileShare',
  'lowBitrateCodec',
  'oneWay',
  'fixedDurations',
  'fixedIntervals',
  'ownNumbers',
  'simRotation',
  'verificationSms',
] as const;
export type FeatureName = (typeof featureNames)[number];

/** One feature's threshold and weight (from config; defaults in src/behaviour/defaults.ts). */
export interface FeatureSetting {
  enabled: boolean;
  /** The value at which the feature fires (compared with `op`). */
  threshold: number;
  /** Contribution when fired, 0..1, combined as 1 − Π(1 − w). */
  weight: number;
}

/** A configurable number range, e.g. mainland China mobile. */
export interface NumberRange {
  name: string;
  /** Regular expression over the normalised number (src/behaviour/numbers.ts: a mainland China number as its national number, e.g. 13812345678; others as + and country code). */
  pattern: string;
  source: string;
}

export interface BehaviourConfig {
  enabled: boolean;
  /** Call attempts a device needs before it is scored at all. */
  minCalls: number;
  /** Score at or above which a device gets a "sim-farm" finding. */
  threshold: number;
  /** Fired features needed besides the score (so no single feature makes a finding). */
  minFeatures: number;
  /** Number ranges counted as "mobile" for mobileShare. */
  mobileRanges: NumberRange[];
  features: Record<FeatureName, FeatureSetting>;
  /** Bounds for live runs. */
  limits: {
    maxOpenCalls: number;
    maxRtpStreams: number;
    maxDevices: number;
    /** Closed calls each device keeps for concurrency/periodicity (a ring: the most recent). */
    callsPerDevice: number;
    /** ms without a final response before an INVITE is closed as unfinished. */
    inviteTimeoutMs: number;
    /** ms after which an answered call without BYE is closed as unfinished. */
    maxCallMs: number;
    /** ms without a packet before an RTP stream is closed. */
    rtpIdleMs: number;
  };
}

/** One feature as evaluated for one device: the measured value, the threshold, and whether it fired. */
export interface FeatureResult {
  name: FeatureName;
  /** null when the feature could not be measured (e.g. no answered calls for callDuration). */
  value: number | null;
  threshold: number;
  /** How value compares with threshold to fire. */
  op: '>=' | '<=';
  fired: boolean;
  weight: number;
  /** Plain sentence with the numbers, e.g. "31 of 32 lines never carried two calls at once". */
  explain: string;
  /** Calls/streams/frames behind the feature (at most 8). */
  refs: EvidenceRef[];
}

/** A call kept as evidence in a profile (bounded list). */
export interface CallSummary {
  callId: string;
  role: 'uac' | 'uas';
  line: string;
  caller?: string;
  callee?: string;
  inviteTs: number;
  outcome: CallOutcome;
  durationMs?: number;
  codec?: string;
  ref: EvidenceRef;
}

/** Counters behind the features, shown with them. */
export interface BehaviourCounters {
  attempts: number;
  answered: number;
  /** Calls the device placed (it sent the INVITE). */
  originated: number;
  /** Calls the device received (it answered or refused the INVITE). */
  terminated: number;
  registeredLines: number;
  concurrentMax: number;
  concurrentP95: number;
  /** Seconds between the device's first and last call. */
  spanS: number;
  codecs: Record<string, number>;
  rtpStreams: number;
  rtpLossPct?: number;
  rtpJitterMsP50?: number;
  ptimeMs?: number;
  sims: number;
  verificationSms: number;
}

export interface BehaviourProfile {
  /** Raw device key (`mac:…` or `ip:…`), re-keyed by the detection engine at the end. */
  device: string;
  /** Scored only with at least minCalls attempts (or SIM/SMS facts); otherwise why not. */
  eligible: boolean;
  reason?: string;
  score: number;
  /** score ≥ threshold and fired features ≥ minFeatures. */
  simFarm: boolean;
  features: FeatureResult[];
  counters: BehaviourCounters;
  /** A few calls that show the behaviour (at most 10). */
  calls: CallSummary[];
  firstSeen: number;
  lastSeen: number;
}
