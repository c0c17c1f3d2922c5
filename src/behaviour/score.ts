/**
 * Fired behaviour features → one score and the sim-farm decision.
 *
 *   fired features ──► per group: 1 − Π(1 − w), capped ──► 1 − Π(1 − group) ──► score
 *                                                       └─► simFarm = score ≥ threshold ∧ fired ≥ minFeatures
 *                                                                     ∧ a line-hosting feature fired
 *
 * Same rule as signature evidence (src/detect/engine.ts score(): 1 − Π(1 − w)), except that
 * features measuring the same thing are grouped first and a group's contribution is capped, so
 * correlated features do not stack into a finding on their own:
 *   - structure: lines, concurrency and lineSaturation all say "many single-call lines busy at
 *     once" — also true of a call centre (one call per agent line);
 *   - traffic: attemptRate, answerRatio and callDuration move together (short unanswered attempts
 *     make a high attempt rate, a low ASR and short calls) — also true of an outbound dialler;
 *   - robotic: fixedDurations, fixedIntervals and ownNumbers are three views of scripted fake usage;
 *   - the others (destination, media, direction, SIM, SMS) are measured from different facts.
 * Every cap and every single weight stays below the default threshold (0.8), so a finding needs
 * at least two independent groups.
 */
import type { BehaviourConfig, FeatureName, FeatureResult } from './types.js';

export type FeatureGroup = 'structure' | 'traffic' | 'destination' | 'media' | 'direction' | 'robotic' | 'sim' | 'sms';

export const featureGroups: Record<FeatureName, FeatureGroup> = {
  lines: 'structure',
  concurrency: 'structure',
  lineSaturation: 'structure',
  attemptRate: 'traffic',
  answerRatio: 'traffic',
  callDuration: 'traffic',
  mobileShare: 'destination',
  lowBitrateCodec: 'media',
  oneWay: 'direction',
  fixedDurations: 'robotic',
  fixedIntervals: 'robotic',
  ownNumbers: 'robotic',
  simRotation: 'sim',
  verificationSms: 'sms',
};

/** Most a group can contribute (1 = uncapped; single-feature groups are bounded by their weight). */
export const groupCaps: Record<FeatureGroup, number> = {
  // lines 0.15 + concurrency 0.1 + lineSaturation 0.35 would be 0.50: held at 0.45 so a call centre
  // (all three fire) plus one more weak group stays below 0.8.
  structure: 0.45,
  // 0.25, 0.3, 0.3 would be 0.63: held at 0.55, one strong feature's worth more than any of them.
  traffic: 0.55,
  destination: 1,
  media: 1,
  direction: 1,
  // 0.35, 0.3, 0.4 would be 0.71: held at 0.5, the same scripted calls usually fire all three.
  robotic: 0.5,
  sim: 1,
  sms: 1,
};

export function groupScores(features: FeatureResult[]): Map<FeatureGroup, number> {
  const keep = new Map<FeatureGroup, number>();
  for (const f of features) {
    if (!f.fired) continue;
    const g = featureGroups[f.name];
    const w = Math.min(1, Math.max(0, f.weight));
    keep.set(g, 1 - (1 - (keep.get(g) ?? 0)) * (1 - w));
  }
  for (const [g, s] of keep) keep.set(g, Math.min(s, groupCaps[g]));
  return keep;
}

/**
 * Features that show the device holds SIM lines of its own: registered lines, lines that carry one
 * call at a time, SIMs seen rotating, codes received, or calls to its own numbers. The softswitch
 * that drives a farm shares the farm's traffic figures (it places the same short calls to the same
 * mobiles) but holds no line; without one of these it is not called a SIM farm.
 */
export const lineHostingFeatures: readonly FeatureName[] = ['lines', 'lineSaturation', 'simRotation', 'verificationSms', 'ownNumbers'];

export function combine(features: FeatureResult[], cfg: BehaviourConfig): { score: number; simFarm: boolean } {
  let rest = 1;
  for (const s of groupScores(features).values()) rest *= 1 - s;
  const score = Math.round((1 - rest) * 1000) / 1000;
  const fired = features.filter((f) => f.fired);
  const hostsLines = fired.some((f) => lineHostingFeatures.includes(f.name));
  return { score, simFarm: score >= cfg.threshold && fired.length >= cfg.minFeatures && hostsLines };
}
