/**
 * Telnet banner analyzer.
 *
 * Banners are the nmap-service-probes match lines quoted in goip-protocols.md, written out as bytes: GoIP
 * (§1.6, line 4701), Dinstar VoIP and SIMCloud (§2.3, lines 4917 and 4935), 2N VoiceBlue Lite (§2.7, line 4660).
 * Where a line has a capture group or an elision (2N version, date, serial) an example value is filled in.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnectionInfo } from '../../src/capture/stream.js';
import type { AnalyzerResult, TelnetBannerObservation } from '../../src/protocols/types.js';
import {
  TELNET_MAX_BANNER, looksLikeTelnetNegotiation, stripTelnetCommands, telnetBannerText, telnetStreamAnalyzer,
} from '../../src/protocols/telnet.js';
import { seededRandom } from '../helpers/random.js';

const conn: TcpConnectionInfo = {
  client: { ip: '10.1.1.9', port: 50123 },
  server: { ip: '10.1.1.1', port: 23 },
  fileIndex: 0,
  firstFrame: 1,
  ts: 1_700_000_000_000,
  handshakeSeen: true,
};

const bytes = (...parts: Array<number[] | string>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** §1.6, nmap line 4701 ("Also Goip SMS gateway"). */
const GOIP = bytes([0xff, 0xfd, 0x01, 0xff, 0xfd, 0x1f, 0xff, 0xfd, 0x21, 0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03], '\r\r\nLogin:');
/** §2.3, nmap line 4917. */
const DINSTAR = bytes([0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03, 0xff, 0xfd, 0x18], '\r\nWelcome to Command Shell!\r\nUsername:');
/** §2.3, nmap line 4935. */
const SIMCLOUD = bytes([0xff, 0xfd, 0x01, 0xff, 0xfd, 0x21, 0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03], 'Welcome to login the Cloud Server.\r\ndomain:');
/** §2.7, nmap line 4660; version, date and serial are example values. */
const TWO_N = bytes(
  [0xff, 0xfd, 0x01, 0xff, 0xfe, 0x01, 0xff, 0xfb, 0x01],
  '\x1b[2J[ M113 ]  B-02.54  VIP113  V-1.17  VB\r\nDate/time: 2020-01-01 10:00\r\nSNumber: M113-0012345\r\n\r\nVB login:',
);

function run(segments: Array<[boolean, Buffer]>, withEnd = true): { observations: TelnetBannerObservation[]; perPush: number[] } {
  const a = telnetStreamAnalyzer.create(conn);
  const results: AnalyzerResult[] = segments.map(([c, d], i) => a.push(c, d, i + 1, conn.ts + i));
  const perPush = results.map((r) => r.observations.length);
  if (withEnd) results.push(a.end());
  return { observations: results.flatMap((r) => r.observations) as TelnetBannerObservation[], perPush };
}

describe('telnet detect()', () => {
  const cases: Array<[string, Buffer, boolean, boolean]> = [
    ['GoIP banner (§1.6)', GOIP, false, true],
    ['Dinstar VoIP banner (§2.3)', DINSTAR, false, true],
    ['Dinstar SIMCloud banner (§2.3)', SIMCLOUD, false, true],
    ['2N VoiceBlue Lite banner (§2.7)', TWO_N, false, true],
    ['the negotiation alone, split before the text', GOIP.subarray(0, 15), false, true],
    ['a client that negotiates first (synthetic: IAC WILL TTYPE, IAC DO SGA)', bytes([0xff, 0xfb, 0x18, 0xff, 0xfd, 0x03]), true, true],
    ['the Dinstar greeting without negotiation (server)', Buffer.from('\r\nWelcome to Command Shell!\r\nUsername:'), false, true],
    ['the Dinstar greeting sent by a client', Buffer.from('Welcome to Command Shell!\r\n'), true, false],
    ['IAC with an option past the registry (0x99)', bytes([0xff, 0xfb, 0x99], 'x'), false, false],
    ['IAC negotiation followed by binary', bytes([0xff, 0xfd, 0x01, 0x00, 0x9c]), false, false],
    ['a lone IAC', bytes([0xff]), false, false],
    ['an SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), false, false],
    ['an HTTP response', Buffer.from('HTTP/1.0 200 OK\n\n'), false, false],
    ['a generic login prompt without negotiation', Buffer.from('login: '), false, false],
  ];
  it.each(cases)('%s → %s', (_name, data, fromClient, expected) => {
    expect(telnetStreamAnalyzer.detect(data, fromClient, conn)).toBe(expected);
  });

  it('does not match 20 000 random buffers (seeded)', () => {
    const rand = seededRandom(5);
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.alloc(4 + Math.floor(rand() * 60));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
      if (looksLikeTelnetNegotiation(b)) matched++;
    }
    expect(matched).toBe(0);
  });
});

describe('telnet banner analyzer', () => {
  const banners: Array<[string, Buffer, string]> = [
    ['GoIP (§1.6)', GOIP, '\r\r\nLogin:'],
    ['Dinstar VoIP (§2.3)', DINSTAR, '\r\nWelcome to Command Shell!\r\nUsername:'],
    ['Dinstar SIMCloud (§2.3)', SIMCLOUD, 'Welcome to login the Cloud Server.\r\ndomain:'],
    ['2N VoiceBlue Lite (§2.7)', TWO_N, '[ M113 ]  B-02.54  VIP113  V-1.17  VB\r\nDate/time: 2020-01-01 10:00\r\nSNumber: M113-0012345\r\n\r\nVB login:'],
  ];
  it.each(banners)('reports the %s banner at its prompt: hex with the negotiation, text without', (_name, banner, text) => {
    const { observations, perPush } = run([[false, banner]], false);
    expect(perPush).toEqual([1]);
    expect(observations[0]).toMatchObject({
      kind: 'telnet-banner', device: conn.server, peer: conn.client, hex: banner.subarray(0, 128).toString('hex'), text,
      ref: { file: 0, frames: [1] },
    });
  });

  it('collects a banner split across segments and reports it once, at the prompt', () => {
    const { observations, perPush } = run([
      [false, GOIP.subarray(0, 3)],
      [true, bytes([0xff, 0xfc, 0x01])],
      [false, GOIP.subarray(3, 15)],
      [false, GOIP.subarray(15, 18)],
      [false, GOIP.subarray(18)],
      [false, Buffer.from('more after the prompt')],
    ]);
    expect(perPush).toEqual([0, 0, 0, 0, 1, 0]);
    expect(observations).toHaveLength(1);
    expect(observations[0]!.hex).toBe(GOIP.toString('hex'));
    expect(observations[0]!.ref.frames).toEqual([1, 3, 4, 5]);
  });

  it('stops at 512 bytes when no prompt comes, hex limited to 128 bytes', () => {
    const long = bytes([0xff, 0xfb, 0x01], 'x'.repeat(700));
    const { observations, perPush } = run([[false, long.subarray(0, 300)], [false, long.subarray(300)]]);
    expect(perPush).toEqual([0, 1]);
    expect(observations[0]!.hex).toHaveLength(256);
    expect(observations[0]!.text).toBe('x'.repeat(TELNET_MAX_BANNER - 3));
  });

  it('reports what the server sent when the connection closes before a prompt', () => {
    const { observations, perPush } = run([[false, bytes([0xff, 0xfd, 0x01], 'Busy, try later\r\n')]]);
    expect(perPush).toEqual([0]);
    expect(observations.map((o) => o.text)).toEqual(['Busy, try later\r\n']);
  });

  it('reports nothing when the server sent nothing, and never keeps what the client typed', () => {
    expect(run([[true, bytes([0xff, 0xfb, 0x18], 'admin\r\n')]]).observations).toEqual([]);
  });

  it('never throws on random or truncated input', () => {
    const rand = seededRandom(77);
    for (let i = 0; i < 300; i++) {
      const a = telnetStreamAnalyzer.create(conn);
      expect(() => {
        a.push(false, bytes([0xff, 0xfa, 0x18]), 1, 0); // IAC SB without IAC SE
        for (let j = 0; j < 5; j++) {
          const b = Buffer.alloc(1 + Math.floor(rand() * 200));
          for (let k = 0; k < b.length; k++) b[k] = rand() < 0.2 ? 0xff : Math.floor(rand() * 256);
          a.push(rand() < 0.3, b, j + 2, 0);
        }
        a.end();
      }).not.toThrow();
    }
  });
});

describe('telnet text helpers', () => {
  it('stripTelnetCommands keeps IAC IAC as one 0xFF and drops subnegotiation', () => {
    const raw = bytes('a', [0xff, 0xff], 'b', [0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0], 'c', [0xff, 0xf1], 'd', [0xff]);
    expect([...stripTelnetCommands(raw)]).toEqual([0x61, 0xff, 0x62, 0x63, 0x64]);
  });

  it('telnetBannerText drops ANSI escapes and control bytes, keeps CR LF TAB and UTF-8', () => {
    expect(telnetBannerText(bytes('\x1b[1;32mOK\x1b[0m\t', [0x07, 0x00], '\r\n', Buffer.from('网关').toString('latin1')))).toBe('OK\t\r\n网关');
  });
});
