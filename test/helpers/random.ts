import { Rng } from '../../src/modems/simulator/random.js';

/** Seeded PRNG (mulberry32, the simulator's Rng) for fuzz-style tests, so a failure reproduces from its seed. */
export function seededRandom(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
