/**
 * The modem commands as a user runs them: `modems simulate` in one process, `modems survey`,
 * `modems dump` and `modems at` in others, over real PTYs. Runs the built CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const cli = join(root, 'dist/src/cli/main.js');
const env = { ...process.env, GOIPWATCH_LOG_FORMAT: 'json' };
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('goipwatch modems (CLI) on a simulated bank', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-sim-'));
  let sim: ChildProcess;
  let ports: string[] = [];

  beforeAll(async () => {
    sim = spawn(process.execPath, [cli, 'modems', 'simulate', '--ports', '3', '--dir', dir, '--seconds', '110'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    sim.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    for (let i = 0; i < 100 && out.trim().split('\n').filter(Boolean).length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    ports = out.trim().split('\n');
    expect(ports).toHaveLength(3);
    expect(ports.every((p) => existsSync(p))).toBe(true);
  }, 30_000);

  afterAll(async () => {
    sim.kill('SIGTERM');
    await new Promise((r) => sim.once('exit', r));
    // The simulator takes its PTYs down with it.
    expect(ports.some((p) => existsSync(p))).toBe(false);
  });

  it('surveys every port as JSON and keeps the survey in SQLite', () => {
    const db = join(dir, 'case.db');
    const r = run('modems', 'survey', '--json', '--db', db, ...ports.flatMap((p) => ['--port', p]));
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { ports: Array<{ port: string; result: { imei: string; answered: boolean } }> };
    expect(doc.ports.map((p) => p.result.answered)).toEqual([true, true, true]);
    const d = new Database(db, { readonly: true });
    const rows = d.prepare('SELECT port, imei FROM modem_surveys ORDER BY port').all() as Array<{ port: string; imei: string }>;
    expect(rows.map((x) => x.imei).sort()).toEqual(doc.ports.map((p) => p.result.imei).sort());
    d.close();
  });

  it('dumps the pool read-only with a manifest that verifies', () => {
    const out = join(dir, 'dump');
    const r = run('modems', 'dump', '--out', out, ...ports.flatMap((p) => ['--port', p]));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/manifest verifies/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: unknown[] };
    expect(manifest.files).toHaveLength(4);
  });

  it('answers a raw AT command and refuses a destructive one without --force', () => {
    const ok = run('modems', 'at', ports[0]!, 'AT+CSQ');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^\+CSQ: \d+,\d+\nOK\n$/);
    const refused = run('modems', 'at', ports[0]!, 'AT+CMGD=1,4');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/refused: AT\+CMGD=1,4/);
    expect(refused.err).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on a bad --ports value or a dump directory that is not there, without a stack trace', () => {
    expect(run('modems', 'simulate', '--ports', '0').code).toBe(2);
    const r = run('modems', 'simulate', '--from-dump', join(dir, 'no-such-dump'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read the dump directory/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
