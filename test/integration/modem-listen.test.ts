/**
 * `modems listen` against simulated modules on real PTYs: an incoming call with caller id and a
 * new SMS arrive as events on the right port, while the other ports stay quiet; a module pulled
 * out while listening is reported, and listened to again once it is back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedBank } from '../../src/modems/simulator/index.js';
import { listenBank, type ModemEvent } from '../../src/modems/listen.js';

describe('modems listen', () => {
  const bank = new SimulatedBank();
  afterAll(async () => {
    await bank.stop();
  });

  it('reports RING with the caller id and +CMTI with its storage index', async () => {
    const paths = await bank.start({ ports: 3, seed: 4, profiles: 'quectel-ec25' });
    const events: ModemEvent[] = [];
    let stop!: () => void;
    const until = new Promise<void>((r) => { stop = r; });
    const listening = listenBank(paths, (e) => events.push(e), until);
    // Let every port finish its AT+CLIP=1 / AT+CNMI setup before the call comes in.
    await new Promise((r) => setTimeout(r, 1500));
    bank.modem(1).ring('+8613912345678');
    const stored = bank.modem(2).deliverSms({ sender: '1069070069', text: '【腾讯科技】你的验证码是314159，用于QQ登录。' });
    await new Promise((r) => setTimeout(r, 800));
    stop();
    const outcomes = await listening;
    expect(outcomes.map((o) => o.error)).toEqual([undefined, undefined, undefined]);
    expect(events.filter((e) => e.port === paths[0])).toEqual([]);
    expect(events.find((e) => e.kind === 'ring')?.port).toBe(paths[1]);
    expect(events.find((e) => e.kind === 'caller-id')).toMatchObject({ port: paths[1], caller: '+8613912345678' });
    const sms = events.filter((e) => e.kind === 'new-sms');
    expect(sms.map((e) => [e.port, e.memory, e.index])).toEqual(stored.map((s) => [paths[2], 'SM', s.index]));
    expect(events.every((e) => e.transcriptLine > 0)).toBe(true);
  }, 60_000);

  it('reports an unplug, waits for the module, and listens to it again after the replug', async () => {
    const replugBank = new SimulatedBank();
    try {
      const paths = await replugBank.start({ ports: 2, seed: 5, profiles: 'simcom-sim800' });
      const events: ModemEvent[] = [];
      let stop!: () => void;
      const until = new Promise<void>((r) => { stop = r; });
      const listening = listenBank(paths, (e) => events.push(e), until, { reopen: { initialDelayMs: 100, maxDelayMs: 400 } });
      const waitFor = async (what: string, ok: () => boolean): Promise<void> => {
        for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 50))) {
          if (Date.now() - t0 > 15_000) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events)}`);
        }
      };
      await new Promise((r) => setTimeout(r, 1000));
      await replugBank.unplug(0);
      await waitFor('the unplug event', () => events.some((e) => e.kind === 'unplugged'));
      // Away for a while: the reopen attempts fail quietly, nothing else is reported.
      await new Promise((r) => setTimeout(r, 800));
      expect(events.map((e) => [e.port, e.kind])).toEqual([[paths[0], 'unplugged']]);
      await replugBank.replug(0);
      await waitFor('the replug event', () => events.some((e) => e.kind === 'replugged'));
      // The module forgot AT+CLIP=1 at power-up; listen sets it again, so the caller id comes through.
      await new Promise((r) => setTimeout(r, 1000));
      replugBank.modem(0).ring('+8613700000001');
      await waitFor('the caller id after the replug', () => events.some((e) => e.kind === 'caller-id'));
      stop();
      const outcomes = await listening;
      expect(outcomes.map((o) => o.error)).toEqual([undefined, undefined]);
      const onPort0 = events.filter((e) => e.port === paths[0]);
      expect(onPort0.map((e) => e.kind).slice(0, 2)).toEqual(['unplugged', 'replugged']);
      expect(onPort0.find((e) => e.kind === 'unplugged')).toMatchObject({ session: 1, line: expect.stringMatching(/^port went away \(/) as string });
      expect(onPort0.find((e) => e.kind === 'caller-id')).toMatchObject({ session: 2, caller: '+8613700000001' });
      expect(events.filter((e) => e.port === paths[1])).toEqual([]);
    } finally {
      await replugBank.stop();
    }
  }, 60_000);
});
