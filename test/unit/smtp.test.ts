/**
 * SMTP SMS-forward analyzer. The real vector is every TCP payload of NiceLabs smtp.pcap
 * (/work/shared/external/nicelabs-goip, a real GoIP with serial 8MCDRM18047247), extracted with
 * `tshark -r smtp.pcap -Y 'tcp.len>0' -T fields -e frame.number -e tcp.srcport -e tcp.len -e tcp.payload`
 * and written below as text with its frame number and length; a test checks the lengths against
 * the capture's. Other sessions are synthetic, written for this test, and say so.
 */
import { describe, expect, it } from 'vitest';
import type { StreamAnalyzer, TcpConnectionInfo } from '../../src/capture/stream.js';
import { parseGoipSmsMail, smtpStreamAnalyzer } from '../../src/protocols/smtp.js';
import type { SmtpSmsObservation } from '../../src/protocols/types.js';

const GATEWAY = { ip: '192.168.1.30', port: 44378 };
const MAIL_SERVER = { ip: '192.168.1.100', port: 25 };
const conn: TcpConnectionInfo = { client: GATEWAY, server: MAIL_SERVER, fileIndex: 0, firstFrame: 1, ts: 1_586_664_973_524, handshakeSeen: true };

/** [frame, sent by the client (the GoIP), tcp.len, payload]. */
const CAPTURE: Array<[number, boolean, number, string]> = [
  [4, false, 26, '220  ESMTP Service Ready\r\n'],
  [6, true, 20, 'EHLO sms-agent.lan\r\n'],
  [8, false, 25, '250-Hello sms-agent.lan\r\n'],
  [9, false, 16, '250-PIPELINING\r\n'],
  [10, false, 14, '250-8BITMIME\r\n'],
  [11, false, 25, '250-ENHANCEDSTATUSCODES\r\n'],
  [12, false, 22, '250 AUTH PLAIN LOGIN\r\n'],
  [14, true, 12, 'AUTH LOGIN\r\n'],
  [16, false, 18, '334 VXNlcm5hbWU6\r\n'],
  [17, true, 26, 'dFBQYVRrelhabUhlaEFzcw==\r\n'],
  [19, false, 18, '334 UGFzc3dvcmQ6\r\n'],
  [20, true, 26, 'eUhuUWpNdlZRNnd0R2NQQw==\r\n'],
  [22, false, 36, '235 2.0.0 Authentication succeeded\r\n'],
  [23, true, 31, 'MAIL FROM: <tPPaTkzXZmHehAss>\r\n'],
  [25, false, 57, '250 2.0.0 Roger, accepting mail from <tPPaTkzXZmHehAss>\r\n'],
  [26, true, 31, 'RCPT TO: <sample@example.com>\r\n'],
  [28, false, 57, "250 2.0.0 I'll make sure <sample@example.com> gets this\r\n"],
  [29, true, 6, 'DATA\r\n'],
  [31, false, 58, '354 2.0.0 Go ahead. End your data with <CR><LF>.<CR><LF>\r\n'],
  [32, true, 24, 'From: tPPaTkzXZmHehAss\r\n'],
  [34, true, 73, 'To: sample@example.com\r\nSubject: SMS\r\nDate: Sun, 12 Apr 2020 04:16:13+0\r\n'],
  [36, true, 272, 'X-Mailer: smail 0.1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    'U046OE1DRFJNMTgwNDcyNDcgQ2hhbm5lbDo4IFNlbmRlcjowNC0xMiAxMjoxNjoxMyxTbWFyVG9uZSznj77mmYLkvaDnmoTlhLLlgLzph5HpoY3ngro6JDI0Mi4wNCDmnInmlYjmnJ/oh7MyMy8wNS8yMDIwIDIzOjU5Cg==\r\n.\r\n'],
  [38, false, 22, '250 2.0.0 OK: queued\r\n'],
  [39, true, 6, 'QUIT\r\n'],
  [41, false, 35, '221 2.0.0 Goodnight and good luck\r\n'],
];

/** The SMS as it decodes from the base64 body (UTF-8, traditional Chinese: a SmarTone balance notice). */
const SMS_TEXT = '現時你的儲值金額為:$242.04 有效期至23/05/2020 23:59';

function replay(session: StreamAnalyzer, steps: Array<[number, boolean, string]>, withEnd = true): { observations: SmtpSmsObservation[] } {
  const observations: SmtpSmsObservation[] = [];
  for (const [frame, fromClient, text] of steps) {
    const result = session.push(fromClient, Buffer.from(text, 'utf8'), frame, conn.ts + frame);
    expect(result.malformed).toBeUndefined();
    observations.push(...(result.observations as SmtpSmsObservation[]));
  }
  if (withEnd) observations.push(...(session.end().observations as SmtpSmsObservation[]));
  return { observations };
}

const captureSteps = CAPTURE.map(([frame, fromClient, , text]): [number, boolean, string] => [frame, fromClient, text]);

describe('smtpStreamAnalyzer on the NiceLabs capture (real GoIP)', () => {
  it('has the segment lengths tshark reports', () => {
    expect(CAPTURE.map(([, , len, text]) => [len, Buffer.byteLength(text, 'utf8')]).every(([a, b]) => a === b)).toBe(true);
  });

  it('detects the server greeting and a client EHLO, not HTTP', () => {
    expect(smtpStreamAnalyzer.detect(Buffer.from('220  ESMTP Service Ready\r\n'), false, conn)).toBe(true);
    expect(smtpStreamAnalyzer.detect(Buffer.from('220-mx.example ESMTP\r\n'), false, conn)).toBe(true);
    expect(smtpStreamAnalyzer.detect(Buffer.from('EHLO sms-agent.lan\r\n'), true, conn)).toBe(true);
    expect(smtpStreamAnalyzer.detect(Buffer.from('helo x\r\n'), true, conn)).toBe(true);
    expect(smtpStreamAnalyzer.detect(Buffer.from('GET / HTTP/1.1\r\n'), true, conn)).toBe(false);
    expect(smtpStreamAnalyzer.detect(Buffer.from('2200'), false, conn)).toBe(false);
  });

  it('reads one smtp-sms observation with the serial, channel, sender and decoded text', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), captureSteps);
    expect(observations).toEqual([{
      kind: 'smtp-sms',
      device: GATEWAY,
      peer: MAIL_SERVER,
      ts: conn.ts + 36,
      ref: { file: 0, frames: [6, 14, 29, 32, 34, 36] },
      ehlo: 'sms-agent.lan',
      authLogin: true,
      tls: false,
      mailer: 'smail 0.1',
      subject: 'SMS',
      serial: '8MCDRM18047247',
      channel: '8',
      smsTime: '04-12 12:16:13',
      // The field after "Sender:<time>," is the SMS originator (see src/protocols/smtp.ts).
      smsSender: 'SmarTone',
      text: SMS_TEXT,
    }]);
  });

  it('keeps no credential from the AUTH LOGIN exchange', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), captureSteps);
    const json = JSON.stringify(observations);
    for (const secret of ['dFBQYVRrelhabUhlaEFzcw==', 'tPPaTkzXZmHehAss', 'eUhuUWpNdlZRNnd0R2NQQw==']) expect(json).not.toContain(secret);
  });

  it('gives the same result when every segment is split byte by byte', () => {
    const steps = captureSteps.flatMap(([frame, fromClient, text]) =>
      [...Buffer.from(text, 'utf8')].map((byte): [number, boolean, Buffer] => [frame, fromClient, Buffer.from([byte])]));
    const session = smtpStreamAnalyzer.create(conn);
    const observations = steps.flatMap(([frame, fromClient, b]) => session.push(fromClient, b, frame, conn.ts + frame).observations);
    expect(observations).toHaveLength(1);
    expect(observations[0]).toMatchObject({ serial: '8MCDRM18047247', channel: '8', text: SMS_TEXT });
  });

  it('emits the mail at end() when the capture stops inside DATA', () => {
    const cut = captureSteps.filter(([frame]) => frame <= 34);
    const session = smtpStreamAnalyzer.create(conn);
    expect(replay(session, cut, false).observations).toEqual([]);
    const [obs] = session.end().observations as SmtpSmsObservation[];
    expect(obs).toMatchObject({ ehlo: 'sms-agent.lan', subject: 'SMS', authLogin: true });
    expect(obs?.serial).toBeUndefined();
  });
});

describe('smtpStreamAnalyzer on synthetic sessions (written for this test)', () => {
  it('reads two mails in one session: quoted-printable with dot-stuffing, then a non-GoIP body with only the generic fields', () => {
    const session = smtpStreamAnalyzer.create(conn);
    const { observations } = replay(session, [
      [1, false, '220 mx.example ESMTP\r\n'],
      [2, true, 'HELO pc.example\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nDATA\r\n'],
      [3, false, '250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n'],
      // "..dot" is a dot-stuffed ".dot" (RFC 5321 §4.5.2); "=\r\n" is a quoted-printable soft break (RFC 2045 §6.7).
      [4, true, 'Subject: =?UTF-8?B?5rWL6K+V?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSN:T1 Channel:2 Sender:01-02 03:04:05,10086,first=\r\n..dot line =E2=82=AC\r\n.\r\n'],
      [5, false, '250 queued\r\n'],
      [6, true, 'MAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nDATA\r\n'],
      [7, false, '250 ok\r\n250 ok\r\n354 go\r\n'],
      [8, true, 'Subject: second\r\n\r\nSN:X Channel:1 Sender:bad layout\r\n.\r\nQUIT\r\n'],
    ]);
    expect(observations.map((o) => [o.ehlo, o.subject, o.authLogin, o.tls, o.serial, o.text])).toEqual([
      ['pc.example', '测试', false, false, 'T1', 'first.dot line €'],
      ['pc.example', 'second', false, false, undefined, undefined],
    ]);
  });

  it('stops reading once the server agrees to STARTTLS (RFC 3207 §4): what follows is TLS', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), [
      [1, false, '220 mx ESMTP\r\n'],
      [2, true, 'EHLO gw\r\n'],
      [3, false, '250-mx\r\n250 STARTTLS\r\n'],
      [4, true, 'STARTTLS\r\n'],
      [5, false, '220 ready\r\n'],
      // Bytes that would read as a mail if the analyzer went on.
      [6, true, 'DATA\r\nSubject: not readable\r\n\r\nx\r\n.\r\n'],
    ]);
    expect(observations).toEqual([]);
  });

  it('marks a mail sent after a refused STARTTLS with tls: true (the attempt is what was seen)', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), [
      [1, false, '220 mx ESMTP\r\n'],
      [2, true, 'EHLO gw\r\nSTARTTLS\r\n'],
      [3, false, '250 mx\r\n454 TLS not available\r\n'],
      [4, true, 'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n'],
      [5, false, '250 ok\r\n250 ok\r\n354 go\r\n'],
      [6, true, 'Subject: SMS\r\n\r\nhi\r\n.\r\n'],
    ]);
    expect(observations.map((o) => [o.ehlo, o.tls, o.subject])).toEqual([['gw', true, 'SMS']]);
  });

  it('reads the client side alone when the server direction was not captured', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), [
      [2, true, 'EHLO gw\r\nAUTH LOGIN\r\n'],
      [3, true, 'dXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n'],
      [4, true, 'X-Mailer: smail 0.1\r\n\r\nbody\r\n.\r\n'],
    ]);
    expect(observations.map((o) => [o.device, o.authLogin, o.mailer])).toEqual([[GATEWAY, true, 'smail 0.1']]);
  });

  it('forgets a mail whose DATA was refused', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), [
      [1, false, '220 mx ESMTP\r\n'],
      [2, true, 'EHLO gw\r\nMAIL FROM:<a@b>\r\nDATA\r\n'],
      [3, false, '250 ok\r\n250 ok\r\n554 no valid recipients\r\n'],
      [4, true, 'QUIT\r\n'],
    ]);
    expect(observations).toEqual([]);
  });

  it('pairs pipelined replies with their commands: a refused RCPT does not stop an accepted DATA (RFC 2920)', () => {
    const { observations } = replay(smtpStreamAnalyzer.create(conn), [
      [1, false, '220 mx ESMTP\r\n'],
      [2, true, 'EHLO gw\r\n'],
      [3, false, '250-mx\r\n250 PIPELINING\r\n'],
      [4, true, 'MAIL FROM:<a@b>\r\nRCPT TO:<nobody@d>\r\nRCPT TO:<c@d>\r\nDATA\r\n'],
      [5, false, '250 ok\r\n550 no such user\r\n250 ok\r\n354 go\r\n'],
      [6, true, 'Subject: SMS\r\n\r\nSN:S1 Channel:3 Sender:05-06 07:08:09,Operator,text\r\n.\r\n'],
    ]);
    expect(observations.map((o) => [o.subject, o.serial, o.channel, o.smsSender, o.text])).toEqual([['SMS', 'S1', '3', 'Operator', 'text']]);
  });

  it('keeps at most 64 KiB of one mail and still finds its end', () => {
    const big = `Subject: big\r\n\r\n${'A'.repeat(1000)}\r\n`.repeat(100);
    const { observations } = replay(smtpStreamAnalyzer.create(conn), [
      [1, false, '220 mx ESMTP\r\n'],
      [2, true, 'EHLO gw\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n'],
      [3, false, '250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n'],
      [4, true, `${big}.\r\n`],
    ]);
    expect(observations.map((o) => o.subject)).toEqual(['big']);
  });
});

describe('parseGoipSmsMail', () => {
  it.each([
    ['SN:8MCDRM18047247 Channel:8 Sender:04-12 12:16:13,SmarTone,hi, there\n', { serial: '8MCDRM18047247', channel: '8', smsTime: '04-12 12:16:13', smsSender: 'SmarTone', text: 'hi, there' }],
    ['SN:A Channel:16 Sender:12-31 23:59:59,+85291234567,\n', { serial: 'A', channel: '16', smsTime: '12-31 23:59:59', smsSender: '+85291234567', text: '' }],
    ['SN:A Channel:1 Sender:2020-04-12 12:16:13,x,y', undefined],
    ['hello', undefined],
  ])('%j', (body, expected) => {
    expect(parseGoipSmsMail(body)).toEqual(expected);
  });
});
