/**
 * The evidence model (DESIGN §4): devices, evidence, findings, and the inventory of SIMs and SMS.
 * These are the detector's outputs; the store and the report writers take them as they are.
 */

export const families = ['goip', 'dinstar', 'ejoin', 'yeastar', 'openvox', 'gateway'] as const;
export type Family = (typeof families)[number];

export const familyNames: Record<Family, string> = {
  goip: 'GoIP / DBL',
  dinstar: 'Dinstar',
  ejoin: 'Ejoin / SkyLine',
  yeastar: 'Yeastar',
  openvox: 'OpenVox',
  gateway: 'other VoIP-GSM gateway',
};

export type Strength = 'weak' | 'medium' | 'strong';
export type Confidence = 'low' | 'medium' | 'high';
export const confidenceRank: Record<Confidence, number> = { low: 1, medium: 2, high: 3 };

import type { BehaviourCounters, BehaviourProfile, CallSummary, FeatureResult } from '../behaviour/types.js';
import type { BehaviourStats } from '../behaviour/engine.js';

/**
 * What a finding says a device is (signatures) or does (behaviour). "sim-farm" is the behaviour
 * finding: it stands apart from "voip-gsm-gateway", and a device can have either or both.
 */
export type FindingKind = 'voip-gsm-gateway' | 'sms-server' | 'sim-farm';

/** Why a "sim-farm" finding was made: every feature as measured (fired or not), the counters and a few calls. */
export interface BehaviourExplanation {
  score: number;
  threshold: number;
  minFeatures: number;
  features: FeatureResult[];
  counters: BehaviourCounters;
  calls: CallSummary[];
}

/** A pointer back into the evidence: a capture file (by its SHA-256) and frame numbers. */
export interface EvidenceRef {
  file: number;
  frames: number[];
}

/**
 * What a ref's `file` index names when it is not an input of this replay (the probe: findings/3
 * `sources`). `evidence`: a pcap the probe wrote (frames = positions in it); `interface`: a live
 * interface whose packets were not kept (frames count its packets since `since`); `file`: a file.
 */
export interface EvidenceSource {
  file: number;
  kind: 'evidence' | 'interface' | 'file';
  name?: string;
  interface?: string;
  since?: string;
  sha256?: string;
}

export interface Evidence {
  signature: string;
  family: Family;
  finding: FindingKind;
  category: string;
  strength: Strength;
  weight: number;
  summary: string;
  source: string;
  /** How many observations matched (the refs keep only the first few). */
  count: number;
  firstSeen: number;
  lastSeen: number;
  refs: EvidenceRef[];
}

export interface Device {
  /** `mac:xx:xx:..` when the device's MAC was seen, else `ip:a.b.c.d`. */
  key: string;
  macs: string[];
  ips: string[];
  vendor?: string;
  vendorNote?: string;
  hostnames: string[];
  vendorClasses: string[];
  serials: string[];
  userAgents: string[];
  /** Distinct SIP address-of-records this device registered. */
  sipLines: string[];
  /** GoIP SMS-server channel ids (one per SIM line). */
  channels: string[];
  firstSeen: number;
  lastSeen: number;
}

export interface Finding {
  /** Stable across runs for the same device and kind (used for de-duplication downstream). */
  id: string;
  kind: FindingKind;
  device: string;
  family: Family;
  confidence: Confidence;
  score: number;
  /** Independent categories of evidence behind the finding. */
  categories: string[];
  evidence: Evidence[];
  firstSeen: number;
  lastSeen: number;
  /** Only on "sim-farm" findings. */
  behaviour?: BehaviourExplanation;
}

export interface SimRecord {
  device: string;
  channel: string;
  imei?: string;
  imsi?: string;
  iccid?: string;
  msisdn?: string;
  carrier?: string;
  /** dBm, from AT+CSQ units (2·csq − 113) where the source gives CSQ. */
  signalDbm?: number;
  lac?: string;
  cell?: string;
  smsLogin?: string;
  smbLogin?: string;
  source: string;
  firstSeen: number;
  lastSeen: number;
  refs: EvidenceRef[];
}

export interface SmsRecord {
  device: string;
  channel: string;
  sender: string;
  body: string;
  recvId?: string;
  source: string;
  /** How many times the same message was seen (resends). */
  copies: number;
  ts: number;
  refs: EvidenceRef[];
}

export interface DetectionResult {
  devices: Device[];
  findings: Finding[];
  sims: SimRecord[];
  sms: SmsRecord[];
  /** Behaviour profiles of every device with calls or SIM/SMS facts (also those below the threshold), when behaviour analysis is on. */
  behaviour?: { profiles: BehaviourProfile[]; stats: BehaviourStats };
}

/**
 * The finding with every evidence ref mapped: `many` for the ref lists (evidence rows, behaviour
 * features), `one` for the single ref of each behaviour call. Used to point refs at other sources
 * (the probe's evidence files, a replay's named inputs).
 */
export function mapFindingRefs(f: Finding, many: (refs: EvidenceRef[]) => EvidenceRef[], one: (ref: EvidenceRef) => EvidenceRef): Finding {
  return {
    ...f,
    evidence: f.evidence.map((e) => ({ ...e, refs: many(e.refs) })),
    ...(f.behaviour
      ? { behaviour: { ...f.behaviour, features: f.behaviour.features.map((x) => ({ ...x, refs: many(x.refs) })), calls: f.behaviour.calls.map((c) => ({ ...c, ref: one(c.ref) })) } }
      : {}),
  };
}
