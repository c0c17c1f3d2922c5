/**
 * A recorded bank (fixtures/modem-banks/mixed-8, made from the simulator by
 * scripts/fixtures/modem-bank.sh) served again on PTYs from its transcripts, and dumped again:
 * the new dump must give the same identifiers and messages as the recorded one, and the
 * recorded manifest must still verify (the fixture itself is never modified).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedBank } from '../../src/modems/simulator/index.js';
import { dumpBank, verifyDump } from '../../src/modems/dump.js';

const recorded = resolve(__dirname, '../../fixtures/modem-banks/mixed-8');

interface Inventory {
  ports: Array<{ port: string; survey?: { imei?: string; imsi?: string; iccid?: string; model?: string }; sms?: Array<{ sender: string; text: string }> }>;
}

function summary(inv: Inventory): string[] {
  return inv.ports.map((p) => [p.survey?.model, p.survey?.imei, p.survey?.imsi, p.survey?.iccid, ...(p.sms ?? []).map((m) => `${m.sender}:${m.text}`).sort()].join('|')).sort();
}

describe('replay of a recorded modem bank', () => {
  let bank: SimulatedBank | undefined;
  afterAll(async () => {
    await bank?.stop();
  });

  it('has a manifest that verifies', async () => {
    expect(await verifyDump(recorded)).toEqual([]);
  });

  it('dumps the replayed bank to the same identifiers and messages', async () => {
    bank = await SimulatedBank.fromDump(recorded);
    expect(bank.paths).toHaveLength(8);
    const out = mkdtempSync(join(tmpdir(), 'gw-redump-'));
    const again = await dumpBank(bank.paths, out);
    expect(again.ports.map((p) => p.error)).toEqual(bank.paths.map(() => undefined));
    const before = JSON.parse(readFileSync(join(recorded, 'inventory.json'), 'utf8')) as Inventory;
    const after = JSON.parse(readFileSync(join(out, 'inventory.json'), 'utf8')) as Inventory;
    expect(summary(after)).toEqual(summary(before));
    expect(before.ports.reduce((n, p) => n + (p.sms?.length ?? 0), 0)).toBeGreaterThan(20);
  }, 120_000);
});
