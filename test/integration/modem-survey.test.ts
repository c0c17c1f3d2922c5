/**
 * Survey of a simulated mixed-vendor bank through real PTYs (socat) and the real serialport
 * module: the simulator (src/modems/simulator) stands in for the modules, nothing else is faked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedBank } from '../../src/modems/simulator/index.js';
import { surveyBank } from '../../src/modems/bank.js';
import { modemFindings } from '../../src/modems/findings.js';
import type { PortSurvey } from '../../src/modems/types.js';

describe('survey of a 16-port mixed-vendor simulated bank', () => {
  const bank = new SimulatedBank();
  let paths: string[] = [];
  let results: Awaited<ReturnType<typeof surveyBank>> = [];

  beforeAll(async () => {
    paths = await bank.start({ ports: 16, seed: 7, consecutiveIccids: true });
    results = await surveyBank(paths);
  }, 120_000);
  afterAll(async () => {
    await bank.stop();
  });

  it('surveys every port', () => {
    expect(results.map((r) => r.error)).toEqual(paths.map(() => undefined));
    expect(results.every((r) => r.result?.answered)).toBe(true);
  });

  it('reads each module\'s identity and SIM as the simulator holds them', () => {
    for (const [i, r] of results.entries()) {
      const s = r.result as PortSurvey;
      const truth = bank.modem(i).state;
      expect(s.imei, `${r.port} IMEI`).toBe(truth.imei);
      if (truth.sim) {
        expect(s.imsi, `${r.port} IMSI`).toBe(truth.sim.imsi);
        expect(s.iccid, `${r.port} ICCID`).toBe(truth.sim.iccid);
      }
    }
  });

  it('picks the vendor driver from the module\'s own identity', () => {
    const drivers = new Set(results.map((r) => r.result?.driver));
    expect([...drivers].sort()).toEqual(expect.arrayContaining(['huawei', 'quectel', 'simcom', 'wavecom']));
  });

  it('reads registration and signal in dBm', () => {
    const withSignal = results.filter((r) => r.result?.signal?.rssiDbm !== undefined);
    expect(withSignal.length).toBeGreaterThan(8);
    expect(results.filter((r) => r.result?.registration?.stat !== undefined).length).toBeGreaterThan(8);
  });

  it('finds the consecutive ICCIDs of bulk-bought cards', () => {
    const f = modemFindings(results.map((r) => r.result as PortSurvey));
    const run = f.find((x) => x.kind === 'iccid-consecutive-run');
    expect(run?.ports.length).toBe(16);
  });
});
