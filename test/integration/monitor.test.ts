/**
 * Central monitoring: `replay --mqtt` publishes a lab replay through the outbox to a real
 * mosquitto, and two monitors in one shared-subscription group split the findings between them
 * while both see the probe's retained status.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startMonitor, type MonitorEvent } from '../../src/report/monitor.js';
import { ProbeMonitor } from '../../src/report/monitor.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const root = resolve(__dirname, '../..');

describe('monitor and replay --mqtt', () => {
  let broker: Mosquitto | undefined;
  afterAll(async () => {
    await broker?.dispose();
  });

  it('splits findings between monitors of one group, each seeing the probe status', async () => {
    broker = await startMosquitto();
    const seen: Array<{ who: string; e: MonitorEvent }> = [];
    const a = await startMonitor({ url: broker.url, onEvent: (e) => seen.push({ who: 'a', e }) });
    const b = await startMonitor({ url: broker.url, onEvent: (e) => seen.push({ who: 'b', e }) });
    const r = spawnSync(process.execPath, [join(root, 'dist/src/cli/main.js'), 'replay', '--mqtt', broker.url, '--probe-id', 'lab-1',
      join(root, 'fixtures/goip-sms-server.pcapng'), join(root, '../shared/external/nicelabs-goip')], { encoding: 'utf8', env: { ...process.env, GOIPWATCH_LOG_FORMAT: 'json' } });
    expect(r.status).toBe(0);
    await new Promise((res) => setTimeout(res, 800));
    await a.stop();
    await b.stop();
    const findings = seen.filter((s) => s.e.type === 'message' && s.e.topic.endsWith('/findings'));
    // 3 gateways and 1 SMS server in these inputs; every finding reached exactly one monitor.
    expect(findings.length).toBe(4);
    const ids = findings.map((f) => (f.e.type === 'message' ? f.e.id : ''));
    expect(new Set(ids).size).toBe(4);
    // Each message names the inputs its refs point at, with their SHA-256 (findings/3 sources).
    const sms = readFileSync(join(root, 'fixtures/goip-sms-server.pcapng'));
    const smsHash = createHash('sha256').update(sms).digest('hex');
    const named = findings.flatMap((f) => (f.e.type === 'message' ? ((f.e.payload.sources ?? []) as Array<{ name: string; sha256?: string }>) : []));
    expect(named.find((x) => x.name === 'goip-sms-server.pcapng')?.sha256).toBe(smsHash);
    for (const f of findings) {
      if (f.e.type !== 'message') continue;
      const p = f.e.payload as { sources: unknown[]; finding: { evidence: Array<{ refs: Array<{ file: number }> }> } };
      for (const e of p.finding.evidence) for (const r of e.refs) expect(p.sources[r.file]).toBeDefined();
    }
    const sims = seen.filter((s) => s.e.type === 'message' && s.e.topic.endsWith('/inventory'));
    expect(sims.length).toBeGreaterThan(0);
    for (const s of sims) {
      if (s.e.type !== 'message') continue;
      const p = s.e.payload as { sources: Array<{ sha256?: string }>; sim: { refs: Array<{ file: number }> } };
      for (const r of p.sim.refs) expect(p.sources[r.file]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    for (const who of ['a', 'b']) {
      expect(seen.some((s) => s.who === who && s.e.type === 'status' && s.e.probe === 'lab-1')).toBe(true);
    }
  }, 60_000);

  it('skips malformed and duplicate messages and counts them', () => {
    const m = new ProbeMonitor();
    const msg = Buffer.from(JSON.stringify({ schema: 'goipwatch/findings/1', probe: 'p1', id: 'finding:x@1', at: '2026-11-22T00:00:00Z' }));
    expect(m.handle('goipwatch/p1/findings', msg)).toBeDefined();
    expect(m.handle('goipwatch/p1/findings', msg)).toBeUndefined();
    expect(m.handle('goipwatch/p1/findings', Buffer.from('not json'))).toBeUndefined();
    expect(m.handle('goipwatch/p1/findings', Buffer.from('{"probe":"p1"}'))).toBeUndefined();
    expect([m.duplicates, m.malformed]).toEqual([1, 2]);
    expect(m.probes.get('p1')?.findings).toBe(1);
  });
});
