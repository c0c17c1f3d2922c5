/**
 * A behaviour section as written in a config file (every key optional, already checked against
 * src/config/schema.json) laid over the defaults of src/behaviour/defaults.ts.
 */
import type { BehaviourConfig, FeatureName, FeatureSetting } from './types.js';
import { defaultBehaviourConfig } from './defaults.js';

export interface BehaviourOverrides {
  enabled?: boolean;
  minCalls?: number;
  threshold?: number;
  minFeatures?: number;
  mobileRanges?: BehaviourConfig['mobileRanges'];
  features?: Partial<Record<FeatureName, Partial<FeatureSetting>>>;
  limits?: Partial<BehaviourConfig['limits']>;
}

export function mergeBehaviour(raw: BehaviourOverrides | undefined): BehaviourConfig {
  const d = defaultBehaviourConfig();
  if (raw === undefined) return d;
  const features = { ...d.features };
  for (const [name, over] of Object.entries(raw.features ?? {}) as Array<[FeatureName, Partial<FeatureSetting>]>) {
    features[name] = { ...d.features[name], ...over };
  }
  return {
    enabled: raw.enabled ?? d.enabled,
    minCalls: raw.minCalls ?? d.minCalls,
    threshold: raw.threshold ?? d.threshold,
    minFeatures: raw.minFeatures ?? d.minFeatures,
    mobileRanges: raw.mobileRanges ?? d.mobileRanges,
    features,
    limits: { ...d.limits, ...raw.limits },
  };
}
