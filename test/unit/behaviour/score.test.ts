/**
 * Combining fired behaviour features into a score and the sim-farm decision. Feature results are
 * written by hand here; realistic profiles are in features.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { combine, featureGroups, groupCaps } from '../../../src/behaviour/score.js';
import { defaultBehaviourConfig, featureDefaults, settingReasons } from '../../../src/behaviour/defaults.js';
import { featureNames, type FeatureName, type FeatureResult } from '../../../src/behaviour/types.js';

const cfg = defaultBehaviourConfig();

function fired(...names: FeatureName[]): FeatureResult[] {
  return featureNames.map((name) => ({
    name, value: 1, threshold: cfg.features[name].threshold, op: '>=' as const, fired: names.includes(name),
    weight: cfg.features[name].weight, explain: '', refs: [],
  }));
}

describe('combine', () => {
  it('is 1 − Π(1 − w) over independent groups', () => {
    const { score } = combine(fired('mobileShare', 'lowBitrateCodec', 'oneWay'), cfg);
    expect(score).toBeCloseTo(1 - 0.7 * 0.8 * 0.8, 3);
  });

  it('is 0 with nothing fired', () => {
    expect(combine(fired(), cfg)).toEqual({ score: 0, simFarm: false });
  });

  it('caps correlated features within a group', () => {
    expect(combine(fired('lines', 'concurrency', 'lineSaturation'), cfg).score).toBe(groupCaps.structure);
    expect(combine(fired('attemptRate', 'answerRatio', 'callDuration'), cfg).score).toBe(groupCaps.traffic);
    expect(combine(fired('fixedDurations', 'fixedIntervals', 'ownNumbers'), cfg).score).toBe(groupCaps.robotic);
  });

  it('never reaches the threshold with one group alone, whichever of its features fire', () => {
    for (const g of new Set(Object.values(featureGroups))) {
      const names = featureNames.filter((n) => featureGroups[n] === g);
      const r = combine(fired(...names), cfg);
      expect(r.score, g).toBeLessThan(cfg.threshold);
      expect(r.simFarm, g).toBe(false);
    }
  });

  it('never reaches the threshold with a single feature', () => {
    for (const n of featureNames) expect(combine(fired(n), cfg).simFarm, n).toBe(false);
  });

  it('keeps the call-centre shape (structure + direction + robotic false alarms) below the threshold', () => {
    const r = combine(fired('lines', 'concurrency', 'lineSaturation', 'oneWay', 'fixedDurations', 'fixedIntervals', 'ownNumbers'), cfg);
    expect(r.score).toBeLessThan(cfg.threshold);
  });

  it('makes a finding from SIP behaviour of a bypass gateway without codecs or robotic calls', () => {
    const r = combine(fired('lines', 'lineSaturation', 'attemptRate', 'answerRatio', 'callDuration', 'mobileShare', 'oneWay'), cfg);
    expect(r.score).toBeGreaterThanOrEqual(cfg.threshold);
    expect(r.simFarm).toBe(true);
  });

  it('makes a finding from SIM rotation and verification codes together', () => {
    const r = combine(fired('simRotation', 'verificationSms'), cfg);
    expect(r.score).toBeGreaterThanOrEqual(0.8);
    expect(r.simFarm).toBe(true);
  });

  it('needs minFeatures fired features besides the score', () => {
    const strict = { ...cfg, minFeatures: 3 };
    expect(combine(fired('simRotation', 'verificationSms'), strict).simFarm).toBe(false);
    const lenient = { ...cfg, threshold: 0.5, minFeatures: 2 };
    expect(combine(fired('verificationSms'), lenient).simFarm).toBe(false);
  });

  it('uses the weight carried by each result (a local config can change it)', () => {
    const f = fired('mobileShare').map((x) => (x.name === 'mobileShare' ? { ...x, weight: 0.5 } : x));
    expect(combine(f, cfg).score).toBe(0.5);
  });
});

describe('defaults', () => {
  it('has a setting and a one-line reason for every feature', () => {
    for (const n of featureNames) {
      expect(cfg.features[n]).toEqual({ enabled: true, threshold: featureDefaults[n].threshold, weight: featureDefaults[n].weight });
      expect(featureDefaults[n].why.length, n).toBeGreaterThan(30);
      expect(featureDefaults[n].why).not.toContain('\n');
      expect(featureDefaults[n].weight).toBeLessThan(cfg.threshold);
    }
    for (const k of ['minCalls', 'threshold', 'minFeatures', ...Object.keys(cfg.limits)]) {
      expect(settingReasons[k as keyof typeof settingReasons], k).toBeTruthy();
    }
  });

  it('gives a fresh object each time', () => {
    const a = defaultBehaviourConfig();
    a.features.lines.threshold = 99;
    a.mobileRanges.pop();
    expect(defaultBehaviourConfig().features.lines.threshold).toBe(8);
    expect(defaultBehaviourConfig().mobileRanges.length).toBeGreaterThan(a.mobileRanges.length);
  });
});
