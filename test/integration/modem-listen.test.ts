/**
 * `modems listen` against simulated modules on real PTYs: an incoming call with caller id and a
 * new SMS arrive as events on the right port, while the other ports stay quiet.
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
});
