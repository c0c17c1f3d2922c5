/**
 * Findings from the modem side. IMEI samples are from at-commands.md §5 (the GoIP manual's worked
 * example and public module captures); SMS texts are synthetic, written for this test in the
 * shapes of Chinese service SMS.
 */
import { describe, expect, it } from 'vitest';
import { classifyVerificationSms, consecutiveIccidRuns, luhnValid, modemFindings } from '../../src/modems/findings.js';
import type { DumpedSms, PortSurvey } from '../../src/modems/types.js';

const survey = (port: string, over: Partial<PortSurvey>): PortSurvey => ({
  port, driver: 'generic', answered: true, cells: [], remoteSimMarkers: 0, errors: [], refs: { imei: { port, line: 4 }, iccid: { port, line: 9 } },
  startedAt: '2026-11-22T00:00:00Z', durationMs: 1, ...over,
});

describe('IMEI checks', () => {
  it.each([
    ['357805023984942', true, 'at-commands.md §5: GoIP manual §5.3.12 worked example 35 780502 398494 2'],
    ['864369032292264', true, 'at-commands.md §5: SIM800L AT+GSN capture'],
    ['867584034313614', true, 'at-commands.md §5: SIM7600E-H capture'],
    ['867584034313615', false, 'the SIM7600E-H IMEI with its check digit changed'],
    ['86758403431361a', false, 'not digits'],
  ])('Luhn of %s is %s (%s)', (imei, ok) => {
    expect(luhnValid(imei)).toBe(ok);
  });

  it('flags Luhn failures, all-zero IMEIs and IMEIs repeated across ports, citing transcript lines', () => {
    const f = modemFindings([
      survey('p0', { imei: '867584034313615' }),
      survey('p1', { imei: '000000000000000' }),
      survey('p2', { imei: '864369032292264' }),
      survey('p3', { imei: '864369032292264' }),
    ]);
    expect(f.map((x) => [x.kind, x.ports])).toEqual([
      ['imei-luhn-failure', ['p0']],
      ['imei-all-zero', ['p1']],
      ['imei-repeated', ['p2', 'p3']],
    ]);
    expect(f[0]!.refs).toEqual([{ port: 'p0', line: 4 }]);
  });
});

describe('ICCID runs', () => {
  it('finds SIMs bought in bulk (consecutive serials, any slot order) and ignores a lone card', () => {
    const runs = consecutiveIccidRuns([
      { iccid: '89860012345678901237', port: 'p2' },
      { iccid: '89860012345678901229', port: 'p1' },
      { iccid: '89860012345678901245', port: 'p3' },
      { iccid: '89860099999999999990', port: 'p4' },
    ]);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.map((r) => r.port)).toEqual(['p1', 'p2', 'p3']);
  });
});

describe('verification codes', () => {
  it.each([
    ['1069070069', '【腾讯科技】你的验证码是123456，用于QQ登录，5分钟内有效。', 'QQ'],
    ['95188', '【支付宝】验证码:654321;你正在登录支付宝', 'Alipay'],
    ['106980095511', '【抖音】验证码4821，用于手机号登录', 'Douyin'],
    ['+447537150201', '<#> Your WhatsApp code: 246-810 Don\'t share this code with others', 'WhatsApp'],
    ['10690001', '【某某银行】您的动态码为 889900，请勿泄露', 'other'],
  ])('reads %s "%s" as a %s code', (sender, text, platform) => {
    expect(classifyVerificationSms(sender, text)).toBe(platform);
  });

  it('does not count an ordinary message', () => {
    expect(classifyVerificationSms('13800138000', '晚上一起吃饭吗？我8点到')).toBeUndefined();
  });

  it('counts codes per platform and per SIM', () => {
    const sms = (port: string, sender: string, text: string, line: number): DumpedSms => ({ port, index: line, status: 'REC READ', sender, text, ref: { port, line } });
    const f = modemFindings(
      [survey('p0', { imsi: '460001111111111' }), survey('p1', { imsi: '460002222222222' })],
      [sms('p0', '1069070069', '【腾讯科技】验证码是111111', 20), sms('p0', '95188', '【支付宝】验证码:222222', 21), sms('p1', '1069070069', '【腾讯科技】验证码是333333', 30), sms('p1', '10086', '您的话费余额为10元', 31)],
    ).find((x) => x.kind === 'verification-codes')!;
    expect(f.counts).toEqual({ 'platform:QQ': 2, 'platform:Alipay': 1, 'sim:460001111111111': 2, 'sim:460002222222222': 1 });
    expect(f.refs.map((r) => r.line)).toEqual([20, 21, 30]);
  });
});
