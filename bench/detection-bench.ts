/**
 * `npm run bench` (part): how well the detector does on the fixture corpus, and how soon.
 *
 *   fixtures/manifest.json + fixtures/<batch>/manifest.json ─► truth per device
 *        │    family (expect.devices[].family, role gateway), SMS server (role sms-server),
 *        │    SIM farm (expect.simFarm / labels.devices[].simFarm), behaviours (labels.devices[].behaviours),
 *        │    negatives (negative: true → every device is a negative for everything)
 *        └─► each fixture through the same pipeline and engine as `replay`, engine.finish() every
 *            CHECK_EVERY_S seconds of capture time ─► predictions at the end, and the capture time
 *            from the file's first packet to the first check that shows each true finding.
 *
 *   node dist/bench/detection-bench.js [--json]
 *
 * Counting rules (printed with the results): a gateway prediction is a voip-gsm-gateway finding of
 * confidence medium or high; a device not named in a positive fixture's manifest is neither a true
 * nor a false positive (its truth is unknown); every device of a negative fixture is a negative.
 * Nothing here is asserted: the figures are measured and printed.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCaptureFile } from '../src/capture/file-source.js';
import { CapturePipeline } from '../src/capture/pipeline.js';
import { DetectionEngine } from '../src/detect/engine.js';
import { loadSignatures } from '../src/detect/signatures.js';
import type { DetectionResult } from '../src/detect/model.js';
import { defaultBehaviourConfig } from '../src/behaviour/defaults.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHECK_EVERY_S = 2;

interface ManifestDevice { ip?: string; mac?: string; role?: string; family?: string; minConfidence?: string }
interface LabelDevice { ip?: string; mac?: string; role?: string; simFarm?: boolean; behaviours?: string[] }
interface Entry {
  file: string;
  negative?: boolean;
  partial?: boolean;
  unreadable?: boolean;
  expect: { devices?: ManifestDevice[]; simFarm?: Array<{ ip?: string; mac?: string }> };
  labels?: { devices?: LabelDevice[] };
}

/** Behaviour labels and the features that show them. */
const BEHAVIOUR_FEATURES: Record<string, string[]> = {
  'fake-usage': ['fixedDurations', 'fixedIntervals', 'ownNumbers'],
  'sim-rotation': ['simRotation'],
  'verification-sms': ['verificationSms'],
};

function manifests(): Entry[] {
  const files = [join(ROOT, 'fixtures/manifest.json'), ...readdirSync(join(ROOT, 'fixtures'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'fixtures', d.name, 'manifest.json')))
    .map((d) => join(ROOT, 'fixtures', d.name, 'manifest.json'))];
  return files.flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { captures: Entry[] }).captures);
}

/**
 * The device key a manifest row names in a result: an address never bound to a MAC (a remote
 * server, whose frames carry the LAN router's MAC) by its IP; else by MAC when given; else the
 * device holding the IP.
 */
function keyOf(r: DetectionResult, d: { ip?: string; mac?: string }): string | undefined {
  if (d.ip && r.devices.some((x) => x.key === `ip:${d.ip}`)) return `ip:${d.ip}`;
  if (d.mac) {
    const k = `mac:${d.mac.toLowerCase()}`;
    if (r.devices.some((x) => x.key === k)) return k;
  }
  if (d.ip) return r.devices.find((x) => x.ips.includes(d.ip!))?.key ?? `ip:${d.ip}`;
  return undefined;
}

interface Run {
  final: DetectionResult;
  /** kind\0device → capture seconds from the first packet to the first check that showed it. */
  firstSeenAfterS: Map<string, number>;
}

async function analyse(path: string): Promise<Run> {
  const engine = new DetectionEngine(loadSignatures(), { behaviour: defaultBehaviourConfig() });
  const pipeline = new CapturePipeline((o) => engine.observe(o), undefined, engine.rtpSink);
  const firstSeenAfterS = new Map<string, number>();
  let t0: number | undefined;
  let nextCheck = 0;
  const check = (ts: number) => {
    const r = engine.finish();
    for (const f of r.findings) {
      if (f.kind === 'voip-gsm-gateway' && f.confidence === 'low') continue;
      const k = `${f.kind}\u0000${f.device}`;
      if (!firstSeenAfterS.has(k)) firstSeenAfterS.set(k, (ts - t0!) / 1000);
    }
  };
  pipeline.beginFile(0);
  let lastTs = 0;
  await readCaptureFile(path, (fr) => {
    t0 ??= fr.ts;
    if (fr.ts >= nextCheck) {
      if (nextCheck > 0) check(fr.ts);
      nextCheck = fr.ts + CHECK_EVERY_S * 1000;
    }
    lastTs = fr.ts;
    pipeline.frame(fr);
  });
  pipeline.endFile();
  engine.endOfInput();
  if (t0 !== undefined) check(lastTs);
  return { final: engine.finish(), firstSeenAfterS };
}

interface Tally { tp: number; fp: number; fn: number; tn: number; misses: string[]; falseAlarms: string[] }
const tally = (): Tally => ({ tp: 0, fp: 0, fn: 0, tn: 0, misses: [], falseAlarms: [] });
const pr = (t: Tally) => ({
  precision: t.tp + t.fp > 0 ? t.tp / (t.tp + t.fp) : null,
  recall: t.tp + t.fn > 0 ? t.tp / (t.tp + t.fn) : null,
  ...t,
});

function median(v: number[]): number | null {
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const entries = manifests().filter((e) => !e.unreadable);
  const families = new Map<string, Tally>();
  const fam = (f: string) => families.get(f) ?? (families.set(f, tally()), families.get(f)!);
  const behaviours = new Map<string, Tally>();
  const beh = (b: string) => behaviours.get(b) ?? (behaviours.set(b, tally()), behaviours.get(b)!);
  const latency = new Map<string, number[]>();
  const took = (k: string, s: number | undefined) => {
    if (s === undefined) return;
    const list = latency.get(k) ?? [];
    list.push(s);
    latency.set(k, list);
  };
  const perFixture: Array<Record<string, unknown>> = [];

  for (const e of entries) {
    const path = join(ROOT, 'fixtures', e.file);
    const run = await analyse(path);
    const r = run.final;
    const at = (kind: string, key: string) => run.firstSeenAfterS.get(`${kind}\u0000${key}`);
    const gatewayPred = new Map(r.findings.filter((f) => f.kind === 'voip-gsm-gateway' && f.confidence !== 'low').map((f) => [f.device, f.family]));
    const serverPred = new Set(r.findings.filter((f) => f.kind === 'sms-server' && f.confidence !== 'low').map((f) => f.device));
    const farmPred = new Set(r.findings.filter((f) => f.kind === 'sim-farm').map((f) => f.device));
    const fired = new Map((r.behaviour?.profiles ?? []).map((p) => [p.device, new Set<string>(p.features.filter((f) => f.fired).map((f) => f.name))]));

    if (e.negative) {
      for (const [dev, f] of gatewayPred) { fam(f).fp++; fam(f).falseAlarms.push(`${e.file} ${dev}`); }
      for (const dev of serverPred) { fam('sms-server').fp++; fam('sms-server').falseAlarms.push(`${e.file} ${dev}`); }
      for (const dev of farmPred) { beh('sim-farm').fp++; beh('sim-farm').falseAlarms.push(`${e.file} ${dev}`); }
      beh('sim-farm').tn += r.devices.filter((x) => !farmPred.has(x.key)).length;
      for (const x of r.devices) {
        const names = fired.get(x.key);
        for (const [b, feats] of Object.entries(BEHAVIOUR_FEATURES)) {
          if (names && feats.some((n) => names.has(n))) { beh(b).fp++; beh(b).falseAlarms.push(`${e.file} ${x.key}`); } else beh(b).tn++;
        }
      }
    } else {
      for (const d of e.expect.devices ?? []) {
        const key = keyOf(r, d);
        if (!key) continue;
        if (d.role === 'sms-server') {
          const t = fam('sms-server');
          if (serverPred.has(key)) { t.tp++; took('sms-server', at('sms-server', key)); } else { t.fn++; t.misses.push(`${e.file} ${key}`); }
        } else if (d.role === 'gateway' && d.family) {
          const got = gatewayPred.get(key);
          if (got === d.family) {
            fam(d.family).tp++;
            took(`gateway:${d.family}`, at('voip-gsm-gateway', key));
          } else {
            fam(d.family).fn++; fam(d.family).misses.push(`${e.file} ${key}${got ? ` (said ${got})` : ''}`);
            if (got) { fam(got).fp++; fam(got).falseAlarms.push(`${e.file} ${key}`); }
          }
        }
      }
      // Behaviour truth: labels (behaviour fixtures) and expect.simFarm.
      const labelled = new Map<string, LabelDevice>();
      for (const d of e.labels?.devices ?? []) { const k = keyOf(r, d); if (k) labelled.set(k, d); }
      for (const d of e.expect.simFarm ?? []) { const k = keyOf(r, d); if (k) labelled.set(k, { ...labelled.get(k), ...d, simFarm: true }); }
      for (const [key, d] of labelled) {
        if (d.simFarm === undefined) continue;
        const t = beh('sim-farm');
        const said = farmPred.has(key);
        if (d.simFarm && said) { t.tp++; took('sim-farm', at('sim-farm', key)); }
        else if (d.simFarm) { t.fn++; t.misses.push(`${e.file} ${key}`); }
        else if (said) { t.fp++; t.falseAlarms.push(`${e.file} ${key}`); }
        else t.tn++;
        for (const [b, feats] of Object.entries(BEHAVIOUR_FEATURES)) {
          const has = (d.behaviours ?? []).includes(b);
          const shown = feats.some((n) => fired.get(key)?.has(n));
          if (has && shown) beh(b).tp++;
          else if (has) { beh(b).fn++; beh(b).misses.push(`${e.file} ${key}`); }
          else if (shown) { beh(b).fp++; beh(b).falseAlarms.push(`${e.file} ${key}`); }
          else beh(b).tn++;
        }
      }
    }
    perFixture.push({
      file: e.file, negative: !!e.negative,
      gateways: [...gatewayPred].map(([d, f]) => `${d}=${f}`), simFarms: [...farmPred].map((d) => `${d} after ${at('sim-farm', d)?.toFixed(1) ?? '?'} s`),
      scores: (r.behaviour?.profiles ?? []).filter((p) => p.eligible).slice(0, 4).map((p) => `${p.device} ${p.score.toFixed(2)}`),
    });
  }

  const out = {
    date: new Date().toISOString(),
    command: 'node dist/bench/detection-bench.js',
    fixtures: entries.length,
    rules: 'gateway prediction = voip-gsm-gateway finding of confidence >= medium; devices not named in a positive manifest are not counted; all devices of negative fixtures are negatives; behaviour labels count as shown when one of their features fired',
    families: Object.fromEntries([...families].sort().map(([k, t]) => [k, pr(t)])),
    behaviours: Object.fromEntries([...behaviours].sort().map(([k, t]) => [k, pr(t)])),
    timeToFindingS: Object.fromEntries([...latency].sort().map(([k, v]) => [k, { n: v.length, median: median(v), max: Math.max(...v) }])),
    checkEveryS: CHECK_EVERY_S,
    perFixture,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const pct = (x: number | null) => (x === null ? '  n/a' : `${(100 * x).toFixed(1).padStart(5)}%`);
  const lines = [`detection quality on ${entries.length} fixtures (${out.rules})`, '', 'per family / role          precision  recall   TP  FP  FN  TN (behaviour: devices counted as negatives)'];
  for (const [k, t] of Object.entries(out.families)) lines.push(`  ${k.padEnd(24)} ${pct(t.precision)}   ${pct(t.recall)}  ${String(t.tp).padStart(3)} ${String(t.fp).padStart(3)} ${String(t.fn).padStart(3)}`);
  lines.push('', 'per behaviour');
  for (const [k, t] of Object.entries(out.behaviours)) lines.push(`  ${k.padEnd(24)} ${pct(t.precision)}   ${pct(t.recall)}  ${String(t.tp).padStart(3)} ${String(t.fp).padStart(3)} ${String(t.fn).padStart(3)} ${String(t.tn).padStart(3)}`);
  const wrong = [...Object.entries(out.families), ...Object.entries(out.behaviours)].flatMap(([k, t]) => [...t.misses.map((m) => `  missed ${k}: ${m}`), ...t.falseAlarms.map((m) => `  false ${k}: ${m}`)]);
  if (wrong.length) lines.push('', ...wrong);
  lines.push('', `time from the first packet to the finding (capture time, checked every ${CHECK_EVERY_S} s)`);
  for (const [k, v] of Object.entries(out.timeToFindingS)) lines.push(`  ${k.padEnd(24)} median ${v.median?.toFixed(1)} s, max ${v.max.toFixed(1)} s (n=${v.n})`);
  for (const p of perFixture) if ((p.simFarms as string[]).length) lines.push(`  sim-farm in ${String(p.file)}: ${(p.simFarms as string[]).join(', ')}`);
  lines.push(`{"bench":"detection","families":${JSON.stringify(Object.fromEntries(Object.entries(out.families).map(([k, t]) => [k, [t.precision, t.recall]])))},"behaviours":${JSON.stringify(Object.fromEntries(Object.entries(out.behaviours).map(([k, t]) => [k, [t.precision, t.recall]])))}}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

main().then((c) => { process.exitCode = c; }, (e: unknown) => { process.stderr.write(`detection-bench: ${e instanceof Error ? e.stack : String(e)}\n`); process.exitCode = 1; });
