/**
 * AMI (Yeastar TG / OpenVox) stream analyzer.
 *
 * Captured samples come from the transcript in gebv/yeastar-tg-sms api/README.md @196b2ce08e9d (a Yeastar TG,
 * logged line by line; the numbers are masked there as +79xxxxxxxxx) and the debug log in
 * Xsmael/NeogateInterface test.js @cc5b90c49350 (a NeoGate TG, Burkina Faso numbers). Others are synthetic,
 * built from the formats cited in goip-protocols.md §2.4 / §2.5, and say so.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnectionInfo } from '../../src/capture/stream.js';
import type { AmiObservation, AnalyzerResult } from '../../src/protocols/types.js';
import { amiStreamAnalyzer, decodeYeastarContent, parseGsmSendCommand } from '../../src/protocols/ami.js';
import { seededRandom } from '../helpers/random.js';

const conn: TcpConnectionInfo = {
  client: { ip: '10.0.0.5', port: 43210 },
  server: { ip: '10.0.0.200', port: 5038 },
  fileIndex: 1,
  firstFrame: 1,
  ts: 1_741_000_000_000,
  handshakeSeen: true,
};

/** gebv/yeastar-tg-sms api/README.md: what the gateway sent, in order (CRLF line ends as logged). */
const GEBV_SERVER = [
  'Asterisk Call Manager/1.1\r\n',
  'Response: Success\r\nMessage: Authentication accepted\r\n\r\n',
  'Response: Follows\r\nPrivilege: SMSCommand\r\n--END COMMAND--\r\n\r\n',
  'Event: UpdateSMSSend\r\nPrivilege: all,smscommand\r\nID: (null)\r\nSmsc: +79xxxxxxxxx\r\nStatus: 1\r\n--END SMS EVENT--\r\n\r\n',
  'Event: ReceivedSMS\r\nPrivilege: all,smscommand\r\nID: \r\nGsmSpan: 2\r\nSender: +79xxxxxxxxx\r\nRecvtime: 2025-03-06 05:01:07\r\n' +
    'Index: 0\r\nTotal: 1\r\nSmsc: +79xxxxxxxxx\r\nContent: %EF%BB%BF%D0%95%D1%89%D1%91+%D0%BE%D1%82%D0%B2%D0%B5%D1%82+\r\n--END SMS EVENT--\r\n\r\n',
].join('');

/** gebv/yeastar-tg-sms api/README.md: what the client sent (the secret is the README's placeholder). */
const GEBV_CLIENT =
  'Action: Login\r\nUsername: apiuser\r\nSecret: apipass\r\n\r\n' +
  'Action: SMSCommand\r\ncommand: gsm send sms 2 +79xxxxxxxxx "Test+message"\r\n\r\n';

/** Xsmael/NeogateInterface test.js: a ReceivedSMS with plain-text Content (LF line ends as logged). */
const NEOGATE_RECEIVED =
  'Event: ReceivedSMS\nPrivilege: all,smscommand\nID: \nGsmSpan: 2\nSender: +22652004896\nRecvtime: 2019-08-19 15:39:21\n' +
  'Index: 1\nTotal: 1\nSmsc: +22670900505\nContent: Ok\n--END SMS EVENT--\n\n';

function run(segments: Array<[boolean, Buffer | string]>): { observations: AmiObservation[]; malformed: string[] } {
  const a = amiStreamAnalyzer.create(conn);
  const results: AnalyzerResult[] = segments.map(([c, d], i) => a.push(c, typeof d === 'string' ? Buffer.from(d) : d, i + 1, conn.ts + i));
  results.push(a.end());
  return {
    observations: results.flatMap((r) => r.observations) as AmiObservation[],
    malformed: results.flatMap((r) => r.malformed ?? []).map((m) => m.reason),
  };
}

/** The facts of an observation, without where and when. */
const facts = ({ kind: _k, device: _d, peer: _p, ts: _t, ref: _r, ...rest }: AmiObservation) => rest;

describe('ami detect()', () => {
  const cases: Array<[string, string | Buffer, boolean, boolean]> = [
    ['the banner (gebv transcript)', 'Asterisk Call Manager/1.1\r\n', false, true],
    ['Action: Login from the client (gebv transcript)', GEBV_CLIENT, true, true],
    ['Action: smscommand from the client, lower case (synthetic, §2.4)', 'action: smscommand\r\ncommand: gsm show spans\r\n\r\n', true, true],
    ['Action: Command from an OpenVox client (synthetic, §2.5)', 'Action: Command\r\nCommand: gsm show spans\r\n\r\n', true, true],
    ['a ReceivedSMS when the capture starts mid-connection (NeogateInterface log)', NEOGATE_RECEIVED, false, true],
    ['the banner sent by the client side', 'Asterisk Call Manager/1.1\r\n', true, false],
    ['Action: Login sent by the server side', 'Action: Login\r\n', false, false],
    ['another Asterisk event first', 'Event: Newchannel\r\nChannel: SIP/100\r\n\r\n', false, false],
    ['an HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', true, false],
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.6\r\n', false, false],
  ];
  it.each(cases)('%s → %s', (_name, data, fromClient, expected) => {
    expect(amiStreamAnalyzer.detect(Buffer.from(data), fromClient as boolean, conn)).toBe(expected);
  });

  it('does not match random binary (seeded)', () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.alloc(8 + Math.floor(rand() * 100));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
      expect(amiStreamAnalyzer.detect(b, rand() < 0.5, conn)).toBe(false);
    }
  });
});

describe('ami stream analyzer', () => {
  it('reads the Yeastar transcript: banner, SMS events with the Content percent-decoded', () => {
    const { observations, malformed } = run([[false, GEBV_SERVER]]);
    expect(malformed).toEqual([]);
    expect(observations.map(facts)).toEqual([
      { banner: 'Asterisk Call Manager/1.1' },
      { event: 'UpdateSMSSend', smsc: '+79xxxxxxxxx', smsId: '(null)' },
      {
        event: 'ReceivedSMS', gsmPort: '2', smsSender: '+79xxxxxxxxx', recvTime: '2025-03-06 05:01:07', smsc: '+79xxxxxxxxx',
        smsIndex: 0, smsTotal: 1, smsText: 'Ещё ответ ',
        smsContentRaw: '%EF%BB%BF%D0%95%D1%89%D1%91+%D0%BE%D1%82%D0%B2%D0%B5%D1%82+',
      },
    ]);
    expect(observations.every((o) => o.device === conn.server && o.peer === conn.client)).toBe(true);
  });

  it('reads the client side: the login user (never the secret) and the SMS command', () => {
    const { observations, malformed } = run([[true, GEBV_CLIENT]]);
    expect(malformed).toEqual([]);
    expect(observations.map(facts)).toEqual([
      { action: 'Login', user: 'apiuser' },
      {
        action: 'SMSCommand', command: 'gsm send sms 2 +79xxxxxxxxx "Test+message"', gsmPort: '2', smsRecipient: '+79xxxxxxxxx',
        smsText: 'Test message', smsContentRaw: 'Test+message',
      },
    ]);
    expect(JSON.stringify(observations)).not.toContain('apipass');
  });

  it('keeps plain-text Content as sent (NeogateInterface log, LF line ends)', () => {
    const { observations } = run([[false, NEOGATE_RECEIVED]]);
    expect(observations.map(facts)).toEqual([{
      event: 'ReceivedSMS', gsmPort: '2', smsSender: '+22652004896', recvTime: '2019-08-19 15:39:21', smsc: '+22670900505',
      smsIndex: 1, smsTotal: 1, smsText: 'Ok',
    }]);
  });

  it('reads the GsmPort key of arsangel/yeastar_signal get_sms.sh (synthetic event built from its keys, §2.4)', () => {
    const event = 'Event: ReceivedSMS\r\nID: 17\r\nGsmPort: 3\r\nSender: 10086\r\nRecvtime: 2024-01-02 03:04:05\r\nIndex: 2\r\nTotal: 3\r\nSmsc: +8613800100500\r\nContent: part+two\r\n--END SMS EVENT--\r\n\r\n';
    const { observations } = run([[false, event]]);
    expect(observations[0]).toMatchObject({ gsmPort: '3', smsId: '17', smsIndex: 2, smsTotal: 3, smsText: 'part two' });
  });

  it('reads an OpenVox send command without decoding its text (synthetic, antirek/openvox-sms index.js, §2.5)', () => {
    const action = 'Action: Command\r\nCommand: gsm send sync sms 1 89135292926 "50% off+more" 20\r\n\r\n';
    const { observations } = run([[true, action]]);
    expect(observations.map(facts)).toEqual([{
      action: 'Command', command: 'gsm send sync sms 1 89135292926 "50% off+more" 20', gsmPort: '1', smsRecipient: '89135292926', smsText: '50% off+more',
    }]);
  });

  it('reads IMEI/IMSI of a gsm show span reply and drops masked values (synthetic, layout of the gebv transcript)', () => {
    const reply = (imei: string, imsi: string) =>
      `Response: Follows\r\nPrivilege: SMSCommand\r\nD-channel: 2\nStatus: Power on, Up, Active, Standard\nModel IMEI: ${imei}\nNetwork Name: MegaFon\n\n` +
      `SIM IMSI: ${imsi}\nState: READY\nLast send AT: AT+CUSD=1\\r\\n--END COMMAND--\r\n\r\n`;
    const { observations } = run([[false, reply('861234567890123', '250021234567890') + reply('********', '********')]]);
    expect(observations.map(facts)).toEqual([
      { imei: '861234567890123', imsi: '250021234567890', networkName: 'MegaFon' },
      { networkName: 'MegaFon' },
    ]);
  });

  it('gives the same observations when the transcript arrives one byte per segment', () => {
    const whole = run([[false, GEBV_SERVER], [true, GEBV_CLIENT]]).observations.map(facts);
    const bytes: Array<[boolean, Buffer]> = [
      ...[...Buffer.from(GEBV_SERVER)].map((b): [boolean, Buffer] => [false, Buffer.from([b])]),
      ...[...Buffer.from(GEBV_CLIENT)].map((b): [boolean, Buffer] => [true, Buffer.from([b])]),
    ];
    const split = run(bytes);
    expect(split.malformed).toEqual([]);
    expect(split.observations.map(facts)).toEqual(whole);
  });

  it('splits a UTF-8 character across segments without damage', () => {
    const event = Buffer.from('Event: ReceivedSMS\r\nGsmSpan: 1\r\nSender: 1\r\nContent: привет мир\r\n--END SMS EVENT--\r\n\r\n');
    const cut = event.indexOf(Buffer.from('привет')) + 1;
    const { observations } = run([[false, event.subarray(0, cut)], [false, event.subarray(cut)]]);
    expect(observations[0]!.smsText).toBe('привет мир');
    expect(observations[0]!.ref.frames).toEqual([1, 2]);
  });

  it('reports the frames of each block', () => {
    const { observations } = run([[false, 'Asterisk Call Manager/1.1\r\nEvent: UpdateSMSSend\r\n'], [false, 'Status: 1\r\n--END SMS EVENT--\r\n\r\n']]);
    expect(observations.map((o) => o.ref.frames)).toEqual([[1], [1, 2]]);
    expect(observations[0]!.ref.file).toBe(1);
  });

  it('reports nothing for other Asterisk events and responses', () => {
    const pbx = 'Asterisk Call Manager/5.0.1\r\nEvent: Newchannel\r\nChannel: SIP/100-0001\r\n\r\nResponse: Success\r\nPing: Pong\r\n\r\n';
    const { observations, malformed } = run([[false, pbx], [true, 'Action: Ping\r\n\r\n']]);
    expect(observations.map(facts)).toEqual([{ banner: 'Asterisk Call Manager/5.0.1' }]);
    expect(malformed).toEqual([]);
  });

  const malformedCases: Array<[string, Array<[boolean, string]>, string]> = [
    ['Content that is not percent-encoded UTF-8', [[false, 'Event: ReceivedSMS\r\nContent: %E0%A4%A\r\n--END SMS EVENT--\r\n\r\n']], 'Content is not percent-encoded UTF-8 (URIError)'],
    ['a ReceivedSMS without Content', [[false, 'Event: ReceivedSMS\r\nSender: 1\r\n--END SMS EVENT--\r\n\r\n']], 'ReceivedSMS without Content'],
    ['a block of garbage lines', [[true, 'hello there\r\n\r\n']], 'block without Key: Value lines'],
    ['a client block without Action', [[true, 'Username: x\r\n\r\n']], 'client block without Action'],
    ['a block cut by the end of the stream', [[false, 'Event: ReceivedSMS\r\nContent: abc']], 'unfinished block at end of stream'],
    ['a block longer than the bound', [[true, `Action: Login\r\nUsername: ${'a'.repeat(70_000)}`]], 'block over 65536 bytes without an end: dropped'],
  ];
  it.each(malformedCases)('reports %s with a reason', (_name, segments, reason) => {
    expect(run(segments).malformed).toContain(reason);
  });

  it('keeps undecodable Content as sent next to its reason', () => {
    const { observations } = run([[false, 'Event: ReceivedSMS\r\nContent: 100%+sure%\r\n--END SMS EVENT--\r\n\r\n']]);
    expect(observations[0]!.smsText).toBe('100%+sure%');
  });

  it('never throws on random input', () => {
    const rand = seededRandom(99);
    for (let i = 0; i < 200; i++) {
      const a = amiStreamAnalyzer.create(conn);
      expect(() => {
        for (let j = 0; j < 8; j++) {
          const b = Buffer.alloc(1 + Math.floor(rand() * 400));
          for (let k = 0; k < b.length; k++) b[k] = rand() < 0.1 ? 0x0a : Math.floor(rand() * 256);
          a.push(rand() < 0.5, b, j + 1, 0);
        }
        a.end();
      }).not.toThrow();
    }
  });
});

describe('ami parsers', () => {
  const contentCases: Array<[string, string, string, boolean]> = [
    ['gebv multipart part 2', '%EF%BB%BF%D0%B5%D0%BD%D0%B8%D0%B5+', 'ение ', true],
    ['plain ASCII without % or +', 'Ok', 'Ok', false],
    ['plain text with a space is never decoded', 'call +7 999', 'call +7 999', false],
  ];
  it.each(contentCases)('decodeYeastarContent: %s', (_name, raw, text, decoded) => {
    expect(decodeYeastarContent(raw)).toEqual({ ok: true, text, decoded });
  });

  it('parseGsmSendCommand reads csms and unquoted text', () => {
    expect(parseGsmSendCommand('gsm send sync csms 2 123 "part" 0 2 1 20')).toEqual({ port: '2', recipient: '123', text: 'part' });
    expect(parseGsmSendCommand('gsm send sms 4 555 hi')).toEqual({ port: '4', recipient: '555', text: 'hi' });
    expect(parseGsmSendCommand('gsm show spans')).toBeNull();
  });
});
