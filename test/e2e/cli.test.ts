/**
 * The command line as a user meets it: exit codes, messages for mistakes (never a stack trace),
 * the JSON document, the SQLite store, and input files left untouched. Runs the built CLI
 * (`npm test` builds first through scripts/setup.sh).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { schemaVersion } from '../../src/store/database.js';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const cli = join(root, 'dist/src/cli/main.js');
const external = resolve(root, '../shared/external/nicelabs-goip');

function goipwatch(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, GOIPWATCH_LOG_FORMAT: 'json' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const work = mkdtempSync(join(tmpdir(), 'gw-cli-'));

describe('goipwatch CLI', () => {
  it('prints help that names the commands and the exit codes', () => {
    const r = goipwatch('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('replay');
    expect(r.out).toMatch(/3\s+partial input/);
  });

  it('exits 2 with a usage message when replay gets no file', () => {
    const r = goipwatch('replay');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing required argument/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on an unknown option', () => {
    expect(goipwatch('replay', '--frobnicate', 'x.pcap').code).toBe(2);
  });

  it('exits 2 with the allowed values when the log level is wrong', () => {
    const r = goipwatch('--log-level', 'loud', 'replay', join(external, 'ddns.pcap'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Allowed choices are fatal, error/);
  });

  it('exits 2 with the file and row named when a signature table is malformed', () => {
    const bad = join(work, 'bad-signatures.json');
    writeFileSync(bad, JSON.stringify({ signatures: [{ id: 'x', family: 'nokia' }] }));
    const r = goipwatch('replay', '--signatures', bad, join(external, 'ddns.pcap'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(bad);
    expect(r.err).toMatch(/row 1.*family/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('keeps the readable part of a truncated capture, names the problem and exits 3', () => {
    const cut = join(work, 'cut.pcap');
    writeFileSync(cut, readFileSync(join(external, 'startup.pcap')).subarray(0, 4000));
    const r = goipwatch('replay', '--json', cut, join(external, 'ddns.pcap'));
    expect(r.code).toBe(3);
    expect(r.err).toContain('cut.pcap');
    expect(r.err).toMatch(/truncated inside record/);
    const doc = JSON.parse(r.out) as { partial: boolean; inputs: Array<{ status: string; frames: number }>; findings: Array<{ device: string }> };
    expect(doc.partial).toBe(true);
    expect(doc.inputs.map((i) => i.status)).toEqual(['partial', 'ok']);
    expect(doc.inputs[0]!.frames).toBeGreaterThan(10);
    // The DHCP frames at the start of the cut file still identify the gateway.
    expect(doc.findings.map((f) => f.device)).toContain('mac:38:3f:10:05:d7:9d');
  });

  it('says a text file is not a capture, exits 3, and still reads the other inputs', () => {
    const txt = join(work, 'notes.pcap');
    writeFileSync(txt, 'suspect flat 12, router in the kitchen\n');
    const r = goipwatch('replay', txt, join(external, 'ddns.pcap'));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/notes\.pcap.*not a pcap or pcapng capture/);
    expect(r.out).toContain('mac:38:3f:10:05:64:80');
  });

  it('stores findings in SQLite and updates them, not repeats them, on a second run', () => {
    const db = join(work, 'case.db');
    const copy = join(work, 'ddns.pcap');
    copyFileSync(join(external, 'ddns.pcap'), copy);
    const before = statSync(copy).mtimeMs;
    expect(goipwatch('replay', '--db', db, copy).code).toBe(0);
    expect(goipwatch('replay', '--db', db, copy).code).toBe(0);
    expect(statSync(copy).mtimeMs).toBe(before);
    const d = new Database(db, { readonly: true });
    expect(d.pragma('user_version', { simple: true })).toBe(schemaVersion);
    expect(d.prepare('SELECT count(*) n FROM runs').get()).toEqual({ n: 2 });
    const findings = d.prepare('SELECT device, family, updated_runs FROM findings').all();
    expect(findings).toEqual([{ device: 'mac:38:3f:10:05:64:80', family: 'goip', updated_runs: 2 }]);
    const ev = d.prepare("SELECT refs FROM evidence WHERE signature = 'vendor-ddns'").get() as { refs: string };
    expect(JSON.parse(ev.refs)[0]).toMatchObject({ file: copy, frames: [1] });
    d.close();
  });

  it('explains a behaviour (sim-farm) finding in the table and keeps the explanation in SQLite', () => {
    // fixtures/behaviour/gw32-spoofed-ua.pcap: sipp-made, a 32-line gateway whose User-Agent says Zoiper.
    const file = join(root, 'fixtures/behaviour/gw32-spoofed-ua.pcap');
    const db = join(work, 'behaviour.db');
    const r = goipwatch('replay', '--db', db, file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/mac:00:e0:4c:51:20:32 {2}behaves like a SIM farm {2}confidence (MEDIUM|HIGH) \(score 0\.\d+ ≥ threshold 0\.80/);
    expect(r.out).toContain('lines never carried two calls at once');
    expect(r.out).toMatch(/counters: \d+ attempts/);
    expect(r.out).toContain('calls shown as evidence:');
    const d = new Database(db, { readonly: true });
    const row = d.prepare("SELECT behaviour FROM findings WHERE kind = 'sim-farm' AND device = 'mac:00:e0:4c:51:20:32'").get() as { behaviour: string };
    const b = JSON.parse(row.behaviour) as { score: number; features: Array<{ name: string; fired: boolean; refs: Array<{ file: string }> }>; calls: Array<{ ref: { file: string; frames: number[] } }> };
    expect(b.features).toHaveLength(14);
    expect(b.features.find((f) => f.name === 'lineSaturation')).toMatchObject({ fired: true });
    expect(b.calls[0]!.ref).toMatchObject({ file });
    const ev = d.prepare("SELECT count(*) n FROM evidence e JOIN findings f ON f.id = e.finding_id WHERE f.kind = 'sim-farm'").get() as { n: number };
    expect(ev.n).toBe(b.features.filter((f) => f.fired).length);
    d.close();
    // Without behaviour analysis the same capture gives no sim-farm finding, and says so in its header.
    const off = goipwatch('replay', '--no-behaviour', file);
    expect(off.out).toContain('0 SIM farm(s) by behaviour');
  });

  it('takes behaviour thresholds from a config file, and names a mistake in it with its line', () => {
    const file = join(root, 'fixtures/behaviour/gw32-spoofed-ua.pcap');
    const strict = join(work, 'strict.yaml');
    writeFileSync(strict, 'behaviour:\n  threshold: 0.99\n');
    expect(goipwatch('replay', '--behaviour-config', strict, file).out).toContain('0 SIM farm(s) by behaviour');
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'behaviour:\n  features:\n    lineSaturaton: {threshold: 0.5}\n');
    const r = goipwatch('replay', '--behaviour-config', bad, file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/line 3.*did you mean 'lineSaturation'/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe('goipwatch demo', () => {
  it('replays the fixtures, then shows the live probe pipeline reaching central monitoring', () => {
    const r = spawnSync(process.execPath, [cli, 'demo'], { encoding: 'utf8', env: { ...process.env, GOIPWATCH_LOG_FORMAT: 'json', GOIPWATCH_LOG_LEVEL: 'warn' }, timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/FINDINGS \(\d+ gateway/);
    expect(r.stdout).toMatch(/central ◄ status\s+demo-probe is online/);
    expect(r.stdout).toMatch(/central ◄ finding\s+voip-gsm-gateway mac:38:3f:10:00:00:01 goip high/);
    expect(r.stdout).toMatch(/central ◄ survey /);
    expect(r.stdout).toMatch(/central ◄ status\s+demo-probe is offline/);
  }, 150_000);
});

describe('goipwatch run with a malformed config', () => {
  it('exits 2 naming the file, the line and the key, without a stack trace', () => {
    const file = join(work, 'bad.yaml');
    writeFileSync(file, 'probe: { id: "x" }\ncapture: { snapLen: 5 }\n');
    const r = goipwatch('run', '--config', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(file);
    expect(r.err).toMatch(/capture\.snapLen \(line 2\): unknown key \(did you mean 'snaplen'\?\)/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
