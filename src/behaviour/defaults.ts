/**
 * Default behaviour settings (DESIGN §4 "Behaviour"), each with the reason it has this value.
 *
 * The values separate the reference behaviour: a fraud SIM farm / GSM gateway (8-64
 * single-call lines busy at once, 40-100 attempts per line-hour, ASR 15-40 %, 10-60 s calls,
 * >90 % mainland-China mobile callees, G.729-class codecs, one-way traffic, robotic fake usage,
 * SIM rotation, verification codes) from the hard negatives: an office PBX trunk, a call centre,
 * a household and a carrier SIP trunk. No feature alone, and no group of correlated features
 * (score.ts featureGroups), reaches the threshold: a finding always needs two independent kinds
 * of behaviour.
 */
import type { BehaviourConfig, FeatureName, FeatureSetting } from './types.js';
import { defaultMobileRanges } from './numbers.js';

export interface FeatureDefault extends FeatureSetting {
  /** One line: why this threshold and weight. */
  why: string;
}

export const featureDefaults: Record<FeatureName, FeatureDefault> = {
  lines: {
    enabled: true, threshold: 8, weight: 0.15,
    why: 'GSM gateways register one account per SIM (8-64); a PBX trunk registers 1-2, but a call centre or phones behind one NAT register many, so it is weak.',
  },
  concurrency: {
    enabled: true, threshold: 4, weight: 0.1,
    why: 'p95 of concurrent calls: every busy trunk reaches 4 (PBX ~10, carrier 20-40), so alone it only says "busy"; it matters with lineSaturation.',
  },
  lineSaturation: {
    enabled: true, threshold: 0.9, weight: 0.35,
    why: 'A GSM channel carries one call at a time; 90 % of lines never overlapping themselves while ≥ 4 calls run is the gateway signature a trunk or SBC never shows (a call centre does, hence the group cap).',
  },
  attemptRate: {
    enabled: true, threshold: 40, weight: 0.25,
    why: 'Bypass gateways dial 40-100 attempts per channel-hour; PBX, call-centre and carrier channels stay near 15-30 because their calls last minutes.',
  },
  answerRatio: {
    enabled: true, threshold: 0.45, weight: 0.3,
    why: 'ASR of SIM-box traffic is 15-40 % (blocked, unreachable, fake numbers); offices answer 65-75 %, call centres 50-60 %, carriers ~60 %.',
  },
  callDuration: {
    enabled: true, threshold: 60, weight: 0.3,
    why: 'Mean answered duration in seconds: bypass and fake-usage calls last 10-60 s, business calls 45-300 s with a mean of minutes.',
  },
  mobileShare: {
    enabled: true, threshold: 0.8, weight: 0.3,
    why: 'Bypass terminates >90 % of calls on mainland-China mobiles; an office dials ~40 %, a call centre ~60 %, a carrier a mix.',
  },
  lowBitrateCodec: {
    enabled: true, threshold: 0.5, weight: 0.2,
    why: 'Gateways and grey routes negotiate G.729/G.723/GSM/AMR/iLBC to save bandwidth; offices and carriers mostly G.711/G.722, but some legitimate links use G.729, so it is weak.',
  },
  oneWay: {
    enabled: true, threshold: 0.95, weight: 0.2,
    why: 'A bypass gateway only terminates (or only originates) calls; a PBX and a carrier trunk carry both ways and a call centre keeps some inbound; pure outbound diallers exist, so it is weak.',
  },
  fixedDurations: {
    enabled: true, threshold: 5, weight: 0.35,
    why: 'Answered calls within ±1 s of one length beyond what the neighbouring durations give by chance (p 1e-6): scripted fake usage or a gateway call-time limit; people do not hang up to the second.',
  },
  fixedIntervals: {
    enabled: true, threshold: 0.1, weight: 0.3,
    why: 'Coefficient of variation of intervals over ≥ 5 repetitions on one line or to one number: a scheduler, not a person (human redials and wrap-up gaps vary by > 30 %).',
  },
  ownNumbers: {
    enabled: true, threshold: 3, weight: 0.4,
    why: 'Calls to the device\'s own numbers from another of its lines, plus hairpins (out on one line, back in on another; ≥ 5 % of the calls in): SIMs of one farm calling each other to look used; a company rarely calls itself through its own trunk.',
  },
  simRotation: {
    enabled: true, threshold: 3, weight: 0.55,
    why: 'A channel that showed ≥ 3 IMSIs is fed by a SIM bank or rotated by hand; a legitimate gateway changes a SIM rarely (2 in a capture is a replacement).',
  },
  verificationSms: {
    enabled: true, threshold: 4, weight: 0.6,
    why: 'SIMs (channels) that received verification codes: ≥ 4 SIMs harvesting codes is account-registration fraud; a company gateway receiving its own 2FA uses 1-2.',
  },
};

/** Why each non-feature default has its value. */
export const settingReasons = {
  minCalls: 'Below 20 attempts rates and shares are noise (a household makes a handful); SIM and SMS facts are scored without calls.',
  threshold: '0.8: above every single feature group (the highest cap is 0.6) so two independent kinds of behaviour are needed; the reference farms score ≥ 0.85 on SIP/RTP alone.',
  minFeatures: '2: a single fired feature never makes a finding, whatever its weight in a local config.',
  maxOpenCalls: '20,000 open dialogs (~1 KB each): the issue\'s 20,000 concurrent calls, far above a Pi-monitored site, bounded against INVITE floods.',
  maxRtpStreams: '40,000 streams: two per call at maxOpenCalls (measured by bench/rtp-state-bench.ts, BENCHMARKS.md).',
  maxDevices: '2,048 devices with behaviour state: a site network, not a carrier core.',
  callsPerDevice: '5,000 calls (~300 B each, ~1.5 MB per busy device): about 2 h of a 32-line gateway at full load, so 15-min fake-usage cycles repeat ≥ 6 times in the ring.',
  inviteTimeoutMs: '180 s: RFC 3261 Timer C (> 3 min) for an INVITE without a final response.',
  maxCallMs: '4 h: an answered call without BYE after 4 h lost its BYE (or the capture did).',
  rtpIdleMs: '15 s without a packet closes a stream: longer than VAD/comfort-noise pauses, short enough to split hold/resume into streams.',
} as const;

export function defaultBehaviourConfig(): BehaviourConfig {
  const features = Object.fromEntries(
    Object.entries(featureDefaults).map(([name, d]) => [name, { enabled: d.enabled, threshold: d.threshold, weight: d.weight }]),
  ) as Record<FeatureName, FeatureSetting>;
  return {
    enabled: true,
    minCalls: 20,
    threshold: 0.8,
    minFeatures: 2,
    mobileRanges: defaultMobileRanges.map((r) => ({ ...r })),
    features,
    limits: {
      maxOpenCalls: 20_000,
      maxRtpStreams: 40_000,
      maxDevices: 2_048,
      callsPerDevice: 5_000,
      inviteTimeoutMs: 180_000,
      maxCallMs: 4 * 3_600_000,
      rtpIdleMs: 15_000,
    },
  };
}
