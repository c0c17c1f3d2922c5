/**
 * Untrusted input never ends a replay: frames of the real NiceLabs captures and of the fixtures,
 * with bytes flipped and lengths cut at random (seeded, so a failure reproduces), go through the
 * whole pipeline and detector without an exception.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/capture/file-source.js';
import { CapturePipeline } from '../../src/capture/pipeline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { builtinSignatures } from '../../src/detect/signatures.js';
import { seededRandom } from '../helpers/random.js';

const root = resolve(__dirname, '../..');
const sources = [
  ...readdirSync(resolve(root, '../shared/external/nicelabs-goip')).filter((f) => f.endsWith('.pcap')).map((f) => resolve(root, '../shared/external/nicelabs-goip', f)),
  ...readdirSync(join(root, 'fixtures')).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(root, 'fixtures', f)),
];

describe('pipeline under mutated input', () => {
  it('survives 40 mutations of every frame of every capture', async () => {
    const frames: Array<{ dlt: number; data: Buffer }> = [];
    for (const path of sources) {
      await readCaptureFile(path, (f) => frames.push({ dlt: f.dlt, data: Buffer.from(f.data.subarray(0, f.caplen)) }));
    }
    expect(frames.length).toBeGreaterThan(50);
    const random = seededRandom(20261122);
    const engine = new DetectionEngine(builtinSignatures());
    const pipeline = new CapturePipeline((o) => engine.observe(o));
    pipeline.beginFile(0);
    let n = 0;
    for (let round = 0; round < 40; round++) {
      for (const f of frames) {
        const data = Buffer.from(f.data);
        const flips = 1 + Math.floor(random() * 4);
        for (let i = 0; i < flips; i++) data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
        const cut = random() < 0.3 ? Math.floor(random() * data.length) : data.length;
        pipeline.frame({ number: ++n, dlt: f.dlt, data, caplen: cut, origLen: data.length, ts: 1_700_000_000_000 + n });
      }
    }
    pipeline.endFile();
    const result = engine.finish();
    expect(pipeline.stats.frames).toBe(n);
    expect(Object.keys(pipeline.stats.malformed).some((k) => k.includes('analyzer error'))).toBe(false);
    expect(result.devices.length).toBeGreaterThan(0);
  });
});
