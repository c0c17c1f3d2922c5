/**
 * Every fixture through the built CLI (`goipwatch replay --json`), compared with
 * fixtures/manifest.json: devices, families, confidence, SIMs, SMS, SIP lines, negatives kept
 * at low confidence at most, and bad inputs reported as partial or unreadable with exit code 3.
 * Behaviour (issue 5): `expect.simFarm` devices get a "sim-farm" finding that explains itself
 * (fired features with numbers, counters, calls with frames of this file); no negative gets one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const cli = join(root, 'dist/src/cli/main.js');

type Confidence = 'low' | 'medium' | 'high';
const rank: Record<Confidence, number> = { low: 1, medium: 2, high: 3 };

interface ExpectedDevice {
  mac?: string;
  ip?: string;
  role: 'gateway' | 'sms-server' | string;
  family?: string;
  minConfidence?: Confidence;
  sims?: Array<{ channel: string; imei?: string; imsi?: string; iccid?: string }>;
  sms?: Array<{ channel: string; sender: string; body: string; copies?: number }>;
  sipLines?: number;
}

interface ManifestEntry {
  file: string;
  description: string;
  negative?: boolean;
  partial?: boolean;
  unreadable?: boolean;
  expect: {
    devices?: ExpectedDevice[];
    maxGatewayConfidence?: Confidence;
    noGatewayFinding?: boolean;
    /** Devices that must be found by behaviour ("sim-farm" finding). */
    simFarm?: Array<{ ip?: string; mac?: string; lines?: number }>;
    /** No device may cross the SIM-farm threshold (also implied by negative: true). */
    noSimFarm?: boolean;
  };
}

interface BehaviourDoc {
  score: number;
  threshold: number;
  features: Array<{ name: string; fired: boolean; value: number | null; explain: string; refs: Array<{ sha256: string; frames: number[] }> }>;
  counters: { attempts: number; registeredLines: number };
  calls: Array<{ callId: string; ref: { sha256: string; frames: number[] } }>;
}

interface ReplayDocument {
  partial: boolean;
  inputs: Array<{ status: string; problem?: string; frames: number; sha256: string }>;
  devices: Array<{ key: string; macs: string[]; ips: string[]; sipLines: string[] }>;
  findings: Array<{
    device: string; kind: string; family: string; confidence: Confidence; score: number;
    evidence: Array<{ summary: string; refs: Array<{ file: string; sha256: string; frames: number[] }> }>;
    behaviour?: BehaviourDoc;
  }>;
  sims: Array<{ device: string; channel: string; imei?: string; imsi?: string; iccid?: string }>;
  sms: Array<{ device: string; channel: string; sender: string; body: string; copies: number }>;
}

// fixtures/manifest.json plus the manifest of each batch folder (fixtures/<batch>/manifest.json).
const manifestFiles = [join(root, 'fixtures/manifest.json'), ...readdirSync(join(root, 'fixtures'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, 'fixtures', d.name, 'manifest.json')))
  .map((d) => join(root, 'fixtures', d.name, 'manifest.json'))];
const manifest = { captures: manifestFiles.flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { captures: ManifestEntry[] }).captures) };

function replayJson(file: string): { code: number | null; doc: ReplayDocument; err: string } {
  const r = spawnSync(process.execPath, [cli, 'replay', '--json', join(root, 'fixtures', file)], {
    encoding: 'utf8', env: { ...process.env, GOIPWATCH_LOG_FORMAT: 'json' }, maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, doc: JSON.parse(r.stdout) as ReplayDocument, err: r.stderr };
}

/** The device a manifest row means: by MAC when it gives one, else by IP. */
function findDevice(doc: ReplayDocument, want: ExpectedDevice) {
  if (want.mac) return doc.devices.find((d) => d.key === `mac:${want.mac!.toLowerCase()}`);
  return doc.devices.find((d) => d.ips.includes(want.ip!));
}

describe.each(manifest.captures.map((c) => [c.file, c] as const))('fixture %s', (_file, entry) => {
  const { code, doc, err } = replayJson(entry.file);

  if (entry.unreadable || entry.partial) {
    it(`is reported as ${entry.unreadable ? 'unreadable' : 'partial'} with a reason, exit code 3, and no stack trace`, () => {
      expect(code).toBe(3);
      expect(doc.partial).toBe(true);
      expect(doc.inputs[0]!.status).toBe(entry.unreadable ? 'unreadable' : 'partial');
      expect(doc.inputs[0]!.problem).toBeTruthy();
      expect(err).toContain(entry.file);
      expect(err).not.toMatch(/\n\s+at /);
    });
    if (entry.partial) {
      it('keeps the frames before the damage', () => {
        expect(doc.inputs[0]!.frames).toBeGreaterThan(0);
      });
    }
  } else {
    it('is read completely (exit code 0)', () => {
      expect(doc.inputs[0]!.status).toBe('ok');
      expect(code).toBe(0);
    });
  }

  const max = entry.expect.maxGatewayConfidence;
  if (max) {
    it(`has no gateway finding above ${max} confidence (hard negative)`, () => {
      const over = doc.findings.filter((f) => f.kind === 'voip-gsm-gateway' && rank[f.confidence] > rank[max]);
      expect(over).toEqual([]);
    });
  }

  if (entry.expect.noGatewayFinding) {
    it('has no gateway finding at all', () => {
      expect(doc.findings.filter((f) => f.kind === 'voip-gsm-gateway').map((f) => f.device)).toEqual([]);
    });
  }

  for (const want of entry.expect.devices ?? []) {
    const label = `${want.role} ${want.mac ?? want.ip}`;
    it(`finds the ${label}${want.family ? ` as ${want.family}` : ''}`, () => {
      const device = findDevice(doc, want);
      expect(device, `device ${label} in ${doc.devices.map((d) => d.key).join(', ')}`).toBeDefined();
      const kind = want.role === 'sms-server' ? 'sms-server' : 'voip-gsm-gateway';
      const finding = doc.findings.find((f) => f.device === device!.key && f.kind === kind);
      expect(finding, `${kind} finding for ${device!.key}`).toBeDefined();
      if (want.family) expect(finding!.family).toBe(want.family);
      if (want.minConfidence) expect(rank[finding!.confidence]).toBeGreaterThanOrEqual(rank[want.minConfidence]);
      // Evidence points back to this file by hash and frame.
      const ref = finding!.evidence[0]!.refs[0]!;
      expect(ref.sha256).toBe(doc.inputs[0]!.sha256);
      expect(ref.frames.length).toBeGreaterThan(0);
    });
    if (want.sims?.length) {
      it(`inventories the ${want.sims.length} SIM(s) of the ${label}`, () => {
        const device = findDevice(doc, want)!;
        for (const sim of want.sims!) {
          const got = doc.sims.find((s) => s.device === device.key && s.channel === sim.channel);
          expect(got, `SIM on channel ${sim.channel}`).toBeDefined();
          for (const k of ['imei', 'imsi', 'iccid'] as const) if (sim[k]) expect(got![k]).toBe(sim[k]);
        }
      });
    }
    if (want.sms?.length) {
      it(`reads the ${want.sms.length} SMS of the ${label} whole, counting resends`, () => {
        const device = findDevice(doc, want)!;
        for (const m of want.sms!) {
          const got = doc.sms.filter((s) => s.device === device.key && s.channel === m.channel && s.body === m.body);
          expect(got, `SMS "${m.body}" on ${m.channel}`).toHaveLength(1);
          expect(got[0]!.sender).toBe(m.sender);
          if (m.copies !== undefined) expect(got[0]!.copies).toBe(m.copies);
        }
      });
    }
    if (want.sipLines !== undefined) {
      it(`counts ${want.sipLines} registered SIP lines on the ${label}`, () => {
        expect(findDevice(doc, want)!.sipLines).toHaveLength(want.sipLines!);
      });
    }
  }

  if (entry.negative || entry.expect.noSimFarm) {
    it('has no sim-farm finding (behaviour stays below the threshold)', () => {
      const farms = doc.findings.filter((f) => f.kind === 'sim-farm').map((f) => `${f.device} score ${f.score}: ${f.evidence.map((e) => e.summary).join(' | ')}`);
      expect(farms).toEqual([]);
    });
  }

  for (const want of entry.expect.simFarm ?? []) {
    const label = want.mac ?? want.ip;
    it(`finds the SIM farm ${label} by behaviour, and the finding explains itself`, () => {
      const device = findDevice(doc, { ...want, role: 'gateway' });
      expect(device, `device ${label} in ${doc.devices.map((d) => d.key).join(', ')}`).toBeDefined();
      const finding = doc.findings.find((f) => f.device === device!.key && f.kind === 'sim-farm');
      expect(finding, `sim-farm finding for ${device!.key}`).toBeDefined();
      const b = finding!.behaviour!;
      expect(b.score).toBeGreaterThanOrEqual(b.threshold);
      // Every fired feature is a piece of evidence with its numbers, pointing into this file by hash and frame.
      const fired = b.features.filter((f) => f.fired);
      expect(finding!.evidence).toHaveLength(fired.length);
      for (const f of fired) {
        expect(f.explain).toMatch(/\d/);
        expect(f.refs.length, `refs of ${f.name}`).toBeGreaterThan(0);
        for (const r of f.refs) expect(r.sha256).toBe(doc.inputs[0]!.sha256);
      }
      expect(b.calls.length).toBeGreaterThan(0);
      for (const c of b.calls) expect(c.ref.frames.length).toBeGreaterThan(0);
      if (want.lines !== undefined) expect(b.counters.registeredLines).toBe(want.lines);
    });
  }
});
