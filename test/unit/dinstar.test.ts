/**
 * Dinstar DWG SMS API 2.0 stream analyzer.
 *
 * No captured DWG traffic is public, so every message here is synthetic, built from the format in
 * goip-protocols.md §2.3 (24-byte header: length BE, gateway MAC, reserved, type BE) and the body layouts of
 * igofed/DwgSmsServer.Net @09b8361 (AuthenticationRequestBody.cs, StatusRequestBody.cs,
 * ReceiveSmsMessageRequestBody.cs, SendSmsRequestBody.cs).
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnectionInfo } from '../../src/capture/stream.js';
import type { AnalyzerResult, DinstarApiObservation } from '../../src/protocols/types.js';
import {
  DWG_MESSAGE_NAMES, decodeGsm7Unpacked, dinstarStreamAnalyzer, looksLikeDwgHeader, parseDwgAuthentication,
  parseDwgReceiveSms,
} from '../../src/protocols/dinstar.js';
import { seededRandom } from '../helpers/random.js';

const conn: TcpConnectionInfo = {
  client: { ip: '192.168.10.20', port: 51000 },
  server: { ip: '203.0.113.7', port: 9000 },
  fileIndex: 0,
  firstFrame: 1,
  ts: 1_700_000_000_000,
  handshakeSeen: true,
};

const DINSTAR_MAC = 'f8:a0:3d:12:34:56';
const OTHER_MAC = '00:1a:2b:3c:4d:5e';
const ZERO_MAC = '00:00:00:00:00:00';

/** Synthetic, built from the header layout in §2.3. `reserved` fills bytes 10–19 and 22–23. */
function dwg(type: number, mac: string, body: Buffer = Buffer.alloc(0), reserved = 0, declaredLength = body.length): Buffer {
  const h = Buffer.alloc(24, 0);
  h.writeUInt32BE(declaredLength, 0);
  Buffer.from(mac.split(':').map((x) => parseInt(x, 16))).copy(h, 4);
  h.fill(reserved, 10, 20);
  h.writeUInt16BE(type, 20);
  h.fill(reserved, 22, 24);
  return Buffer.concat([h, body]);
}

function padded(text: string, width: number): Buffer {
  const b = Buffer.alloc(width, 0);
  b.write(text, 'latin1');
  return b;
}

/** AuthenticationRequestBody.cs: 16-byte user + 16-byte password, NUL-padded. */
const authBody = (user: string, password: string): Buffer => Buffer.concat([padded(user, 16), padded(password, 16)]);

/** ReceiveSmsMessageRequestBody.cs: number[24], type, port, timestamp[15], timezone, encoding, length BE16, content. */
function receiveSmsBody(number: string, port: number, encoding: number, content: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(content.length);
  return Buffer.concat([padded(number, 24), Buffer.from([0, port]), padded('20240610120000', 15), Buffer.from([8, encoding]), len, content]);
}

function ucs2be(text: string): Buffer {
  const b = Buffer.from(text, 'utf16le');
  b.swap16();
  return b;
}

function randomBuffer(rand: () => number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function run(segments: Array<[boolean, Buffer]>): { observations: DinstarApiObservation[]; malformed: string[] } {
  const a = dinstarStreamAnalyzer.create(conn);
  const results: AnalyzerResult[] = segments.map(([fromClient, data], i) => a.push(fromClient, data, i + 1, conn.ts + i));
  results.push(a.end());
  return {
    observations: results.flatMap((r) => r.observations) as DinstarApiObservation[],
    malformed: results.flatMap((r) => r.malformed ?? []).map((m) => m.reason),
  };
}

describe('dinstar detect()', () => {
  const cases: Array<[string, Buffer, boolean]> = [
    ['AuthenticationRequest from a Dinstar-OUI gateway', dwg(0x0f, DINSTAR_MAC, authBody('sms', 'pw')), true],
    ['KeepAlive from a Dinstar-OUI gateway, reserved bytes set (firmware timestamp, [REC])', dwg(0x00, DINSTAR_MAC, Buffer.alloc(0), 0x5a), true],
    ['AuthenticationRequest, other OUI, zero reserved bytes, 32-byte body', dwg(0x0f, OTHER_MAC, authBody('sms', 'pw')), true],
    ['KeepAlive, other OUI, zero reserved bytes, empty body', dwg(0x00, OTHER_MAC), true],
    ['KeepAlive, other OUI, zero reserved bytes, but a 5-byte body', dwg(0x00, OTHER_MAC, Buffer.alloc(5)), false],
    ['AuthenticationRequest, other OUI, zero reserved, 20-byte body', dwg(0x0f, OTHER_MAC, Buffer.alloc(20)), false],
    ['other OUI with non-zero reserved bytes', dwg(0x0f, OTHER_MAC, authBody('sms', 'pw'), 1), false],
    ['type 0x13 (past ReceiveSmsReceiptResponse)', dwg(0x13, DINSTAR_MAC), false],
    ['body length over 4096', dwg(0x05, DINSTAR_MAC, Buffer.alloc(0), 0, 5000), false],
    ['zero MAC (how the reference server stamps its own messages)', dwg(0x10, ZERO_MAC, Buffer.from([0])), false],
    ['multicast MAC', dwg(0x00, '01:00:5e:00:00:01'), false],
    ['23 bytes (less than a header)', dwg(0x00, DINSTAR_MAC).subarray(0, 23), false],
    ['all-zero 24 bytes', Buffer.alloc(24), false],
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'), false],
  ];
  it.each(cases)('%s → %s', (_name, data, expected) => {
    expect(dinstarStreamAnalyzer.detect(data, true, conn)).toBe(expected);
  });

  it('does not match 20 000 random buffers (seeded)', () => {
    const rand = seededRandom(0xd1d57a);
    let matched = 0;
    for (let i = 0; i < 20_000; i++) if (looksLikeDwgHeader(randomBuffer(rand, 24 + Math.floor(rand() * 200)))) matched++;
    expect(matched).toBe(0);
  });
});

describe('dinstar stream analyzer', () => {
  it('reads the user of an AuthenticationRequest and never keeps the password', () => {
    const { observations, malformed } = run([[true, dwg(0x0f, DINSTAR_MAC, authBody('smsuser', 'S3cretPw'))]]);
    expect(malformed).toEqual([]);
    expect(observations).toHaveLength(1);
    const o = observations[0]!;
    expect(o).toMatchObject({
      kind: 'dinstar-api', messageType: 0x0f, messageName: 'AuthenticationRequest', bodyLength: 32, user: 'smsuser',
      gatewayMac: DINSTAR_MAC, from: 'gateway', device: { ip: '192.168.10.20', mac: DINSTAR_MAC }, peer: conn.server,
    });
    expect(JSON.stringify(o)).not.toContain('S3cretPw');
  });

  it('names all 19 message types of the API', () => {
    expect(DWG_MESSAGE_NAMES).toHaveLength(0x13);
    expect(DWG_MESSAGE_NAMES[0x0f]).toBe('AuthenticationRequest');
    expect(DWG_MESSAGE_NAMES[0x12]).toBe('ReceiveSmsReceiptResponse');
  });

  it('frames several messages in one segment', () => {
    const status = Buffer.from([4, 0, 1, 2, 3]);
    const chunk = Buffer.concat([dwg(0x0f, DINSTAR_MAC, authBody('u', 'p')), dwg(0x07, DINSTAR_MAC, status), dwg(0x00, DINSTAR_MAC)]);
    const { observations, malformed } = run([[true, chunk]]);
    expect(malformed).toEqual([]);
    expect(observations.map((o) => o.messageName)).toEqual(['AuthenticationRequest', 'StatusRequest', 'KeepAlive']);
    expect(observations[1]).toMatchObject({ portCount: 4, portStatuses: [0, 1, 2, 3] });
    expect(observations.every((o) => o.ref.frames.join() === '1')).toBe(true);
  });

  it('reassembles messages split at every byte boundary, with the frames that carried them', () => {
    const stream = Buffer.concat([dwg(0x0f, DINSTAR_MAC, authBody('splituser', 'x')), dwg(0x00, DINSTAR_MAC)]);
    for (let cut = 1; cut < stream.length; cut++) {
      const { observations, malformed } = run([[true, stream.subarray(0, cut)], [true, stream.subarray(cut)]]);
      expect(malformed).toEqual([]);
      expect(observations.map((o) => o.messageName)).toEqual(['AuthenticationRequest', 'KeepAlive']);
      expect(observations[0]!.user).toBe('splituser');
      expect(observations[0]!.ref.frames).toEqual(cut < 56 ? [1, 2] : [1]);
      expect(observations[1]!.ref.frames).toEqual(cut <= 56 ? [2] : [1, 2]);
    }
  });

  it('reassembles a message delivered one byte per segment', () => {
    const msg = dwg(0x07, DINSTAR_MAC, Buffer.from([2, 0, 0]));
    const { observations } = run([...msg].map((b): [boolean, Buffer] => [true, Buffer.from([b])]));
    expect(observations).toHaveLength(1);
    expect(observations[0]!.ref.frames).toHaveLength(msg.length);
  });

  it('keeps the gateway MAC for server messages stamped with a zero MAC', () => {
    const { observations } = run([
      [true, dwg(0x0f, DINSTAR_MAC, authBody('u', 'p'))],
      [false, dwg(0x10, ZERO_MAC, Buffer.from([0]))],
    ]);
    expect(observations[1]).toMatchObject({ messageName: 'AuthenticationResponse', from: 'server', gatewayMac: DINSTAR_MAC, device: { mac: DINSTAR_MAC } });
  });

  const smsCases: Array<[string, number, Buffer, string]> = [
    ['UCS-2 (encoding 1)', 1, ucs2be('Ваш код 4711'), 'Ваш код 4711'],
    ['GSM 7-bit, one septet per byte (encoding 0)', 0, Buffer.from([0x43, 0x6f, 0x64, 0x65, 0x3a, 0x20, 0x34, 0x37, 0x00, 0x01, 0x1b, 0x65]), 'Code: 47@£€'],
  ];
  it.each(smsCases)('reads a ReceiveSmsMessageRequest in %s', (_name, encoding, content, text) => {
    const { observations, malformed } = run([[true, dwg(0x05, DINSTAR_MAC, receiveSmsBody('+8613800138000', 2, encoding, content))]]);
    expect(malformed).toEqual([]);
    expect(observations[0]).toMatchObject({ messageName: 'ReceiveSmsMessageRequest', port: 2, smsSender: '+8613800138000', smsText: text });
  });

  it('reads a SendSmsRequest from the server (port, recipient, text)', () => {
    const content = ucs2be('hello');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(content.length);
    const body = Buffer.concat([Buffer.from([3, 1, 0, 1]), padded('+4915112345678', 24), len, content]);
    const { observations } = run([[true, dwg(0x00, DINSTAR_MAC)], [false, dwg(0x01, ZERO_MAC, body)]]);
    expect(observations[1]).toMatchObject({ messageName: 'SendSmsRequest', from: 'server', port: 3, smsRecipient: '+4915112345678', smsText: 'hello' });
  });

  const malformedCases: Array<[string, Array<[boolean, Buffer]>, string]> = [
    ['a short authentication body', [[true, dwg(0x0f, DINSTAR_MAC, Buffer.alloc(10))]], 'AuthenticationRequest: authentication body shorter than 32 bytes'],
    ['a non-ASCII user', [[true, dwg(0x0f, DINSTAR_MAC, Buffer.concat([Buffer.from([0xc3, 0xa9]), Buffer.alloc(30)]))]], 'AuthenticationRequest: authentication user is not NUL-padded printable ASCII'],
    ['an unknown type', [[true, dwg(0x00, DINSTAR_MAC)], [true, dwg(0x2a, DINSTAR_MAC)]], 'unknown message type 0x2a (not in DWG SMS API 2.0)'],
    ['an absurd body length', [[true, dwg(0x00, DINSTAR_MAC)], [true, dwg(0x05, DINSTAR_MAC, Buffer.alloc(0), 0, 0x7fffffff)]], 'body length over 65536 bytes: stream desynchronised, rest of the gateway direction ignored'],
    ['a message cut by the end of the stream', [[true, dwg(0x0f, DINSTAR_MAC, authBody('u', 'p')).subarray(0, 40)]], 'unfinished message from the gateway at end of stream'],
    ['an SMS whose length runs past the body', [[true, dwg(0x05, DINSTAR_MAC, receiveSmsBody('123', 0, 1, Buffer.alloc(4)).subarray(0, 47))]], 'ReceiveSmsMessageRequest: receive-SMS content length runs past the body'],
    ['UCS-2 text of odd length', [[true, dwg(0x05, DINSTAR_MAC, receiveSmsBody('123', 0, 1, Buffer.alloc(3)))]], 'ReceiveSmsMessageRequest: receive-SMS content does not decode as encoding 1'],
  ];
  it.each(malformedCases)('reports %s with a reason', (_name, segments, reason) => {
    expect(run(segments).malformed).toContain(reason);
  });

  it('still reports the message whose body could not be read', () => {
    const { observations } = run([[true, dwg(0x0f, DINSTAR_MAC, Buffer.alloc(10))]]);
    expect(observations).toHaveLength(1);
    expect(observations[0]!.user).toBeUndefined();
  });

  it('ignores the rest of a direction after desynchronising, and never throws on random input', () => {
    const rand = seededRandom(42);
    for (let i = 0; i < 200; i++) {
      const a = dinstarStreamAnalyzer.create(conn);
      expect(() => {
        a.push(true, dwg(0x00, DINSTAR_MAC), 1, 0);
        for (let j = 0; j < 5; j++) a.push(rand() < 0.5, randomBuffer(rand, 1 + Math.floor(rand() * 300)), j + 2, 0);
        a.end();
      }).not.toThrow();
    }
  });
});

describe('dinstar body parsers', () => {
  it('parseDwgAuthentication rejects bytes after the NUL padding', () => {
    const body = authBody('user', 'pw');
    body[10] = 0x41;
    expect(parseDwgAuthentication(body)).toEqual({ ok: false, reason: 'authentication user is not NUL-padded printable ASCII' });
  });

  it('parseDwgReceiveSms rejects a body shorter than its fixed part', () => {
    expect(parseDwgReceiveSms(Buffer.alloc(44)).ok).toBe(false);
  });

  it('decodeGsm7Unpacked maps the whole default alphabet and rejects bytes over 0x7f', () => {
    const all = Buffer.from([...Array(128).keys()].filter((b) => b !== 0x1b));
    expect(decodeGsm7Unpacked(all)).toHaveLength(127);
    expect(decodeGsm7Unpacked(Buffer.from([0x5f, 0x60, 0x7f]))).toBe('§¿à');
    expect(decodeGsm7Unpacked(Buffer.from([0x80]))).toBeNull();
  });
});
