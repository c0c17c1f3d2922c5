/**
 * The bank under stress, through real PTYs (socat) and the real serialport module, against the
 * simulated modules of src/modems/simulator: a read-only dump of 200 SMS with multi-part UCS2,
 * every fault switch, and an unplug/replug in the middle of a survey.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBank, FAULT_NAMES } from '../../src/modems/simulator/index.js';
import { dumpBank, verifyDump } from '../../src/modems/dump.js';
import { surveyBank } from '../../src/modems/bank.js';

let bank: SimulatedBank | undefined;
afterEach(async () => {
  await bank?.stop();
  bank = undefined;
});

describe('modems dump', () => {
  it('dumps a pool holding 200+ stored SMS (multi-part UCS2 joined), writes a manifest that verifies, and attempts nothing destructive', async () => {
    bank = new SimulatedBank();
    const profiles = ['quectel-ec25', 'simcom-sim800', 'generic', 'quectel-m35', 'simcom-sim7600'] as const;
    const paths = await bank.start({ ports: 5, seed: 11, smsPerModem: 50, profiles: [...profiles] });
    // The truth: what the simulated SIMs hold, parts grouped into messages as a phone would show them.
    const truth: string[] = [];
    let storedParts = 0;
    for (let i = 0; i < 5; i++) {
      const stored = bank.modem(i).state.sim?.sms ?? [];
      storedParts += stored.length;
      const groups = new Map<string, typeof stored>();
      for (const m of stored) {
        const key = m.concat ? `${m.sender}|${m.concat.reference}|${m.concat.total}` : `single|${m.index}`;
        groups.set(key, [...(groups.get(key) ?? []), m]);
      }
      for (const parts of groups.values()) {
        truth.push(`${i}|${parts[0]!.sender}|${parts.sort((a, b) => (a.concat?.sequence ?? 0) - (b.concat?.sequence ?? 0)).map((p) => p.text).join('')}`);
      }
    }
    expect(storedParts).toBeGreaterThanOrEqual(200);

    const out = mkdtempSync(join(tmpdir(), 'gw-dump-'));
    const result = await dumpBank(paths, out);
    const sms = result.ports.flatMap((p) => p.result?.sms ?? []);
    const got = sms.map((m) => `${paths.indexOf(m.port)}|${m.sender}|${m.text}`);
    expect(got.sort()).toEqual(truth.sort());
    const multipart = sms.filter((m) => m.parts && m.parts.total > 1);
    expect(multipart.length).toBeGreaterThan(0);
    // Parts that storage had no room for are reported missing, never invented.
    expect(multipart.every((m) => m.parts!.missing.length === m.parts!.total - m.parts!.indexes.length)).toBe(true);
    expect(multipart.some((m) => m.parts!.missing.length === 0)).toBe(true);
    expect(sms.some((m) => /验证码/.test(m.text))).toBe(true);
    expect(result.ports.flatMap((p) => p.result?.undecoded ?? [])).toEqual([]);

    expect(await verifyDump(out)).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { readOnly: { statement: string }; files: Array<{ path: string }> };
    expect(manifest.readOnly.statement).toMatch(/refused by the channel policy/);
    expect(manifest.files.map((f) => f.path)).toContain('inventory.json');
    expect(manifest.files.filter((f) => f.path.startsWith('transcripts/'))).toHaveLength(5);
    for (let i = 0; i < 5; i++) expect(bank.modem(i).attempts, `port ${i} destructive attempts`).toEqual([]);

    // Tampering is seen.
    writeFileSync(join(out, 'inventory.json'), '{}');
    expect(await verifyDump(out)).toEqual(['inventory.json: SHA-256 differs from the manifest']);
  }, 120_000);
});

describe('faults', () => {
  it.each(FAULT_NAMES.map((f) => [f]))('survives the "%s" fault on one port while the others finish', async (fault) => {
    bank = new SimulatedBank();
    const paths = await bank.start({ ports: 3, seed: 5, profiles: 'quectel-ec25', faults: { 1: [fault] } });
    const results = await surveyBank(paths);
    expect(results).toHaveLength(3);
    for (const i of [0, 2]) {
      expect(results[i]!.error).toBeUndefined();
      expect(results[i]!.result?.imei).toBe(bank.modem(i).state.imei);
    }
    // The faulty port ends with a result or a reason, never a hang or a crash.
    const faulty = results[1]!;
    expect(faulty.result !== undefined || faulty.error !== undefined).toBe(true);
    if (fault === 'no-sim') expect(faulty.result?.imsi).toBeUndefined();
  }, 120_000);
});

describe('unplug and replug', () => {
  it('lets the other ports finish a survey when one is unplugged mid-survey, and surveys it again once it is back', async () => {
    bank = new SimulatedBank();
    const paths = await bank.start({ ports: 4, seed: 9, profiles: 'simcom-sim800', latencyMs: 40 });
    const running = surveyBank(paths);
    await new Promise((r) => setTimeout(r, 300));
    await bank.unplug(2);
    const first = await running;
    for (const i of [0, 1, 3]) expect(first[i]!.result?.imei).toBe(bank.modem(i).state.imei);
    const hit = first[2]!;
    expect(hit.error !== undefined || (hit.result?.errors.length ?? 0) > 0).toBe(true);
    await bank.replug(2);
    const again = await surveyBank([paths[2]!]);
    expect(again[0]!.result?.imei).toBe(bank.modem(2).state.imei);
  }, 120_000);
});

describe('status of unread messages', () => {
  it('lists without changing status where the module allows it, and says so in the manifest where it does not', async () => {
    bank = new SimulatedBank();
    const paths = await bank.start({ ports: 2, seed: 21, smsPerModem: 5, profiles: ['simcom-sim800', 'quectel-ec25'] });
    const out = mkdtempSync(join(tmpdir(), 'gw-dump-'));
    const result = await dumpBank(paths, out);
    expect(bank.modem(0).sideEffects).toEqual([]);
    expect(result.ports[0]!.result?.statusMayHaveChanged).toBe(false);
    expect(result.ports[1]!.result?.statusMayHaveChanged).toBe(true);
    expect(result.manifest.readOnly.sideEffects).toEqual([expect.stringContaining(paths[1]!)]);
  }, 60_000);
});
