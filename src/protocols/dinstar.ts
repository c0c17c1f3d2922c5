/**
 * Dinstar "DWG SMS API 2.0" over TCP (goip-protocols.md §2.3; layout as implemented by
 * igofed/DwgSmsServer.Net, which follows the vendor document of that name).
 *
 *   DWG gateway (TCP client) ──connects to──► SMS server (listen port configured on the gateway)
 *     AuthenticationRequest 0x0F ──►          ◄── AuthenticationResponse 0x10
 *     StatusRequest 0x07 ──►                  ◄── StatusResponse 0x08
 *     ReceiveSmsMessageRequest 0x05 ──►       ◄── ReceiveSmsMessageResponse 0x06
 *                                             ◄── SendSmsRequest 0x01   (server asks the gateway to send)
 *     SendSmsResponse 0x02 ──► ...
 *
 *   Every message: a 24-byte header, then `body length` bytes.
 *     0      4            10                   20     22     24
 *     +------+------------+--------------------+------+------+
 *     | len  | gateway MAC| reserved (10)      | type | rsvd | body...
 *     +------+------------+--------------------+------+------+   (big-endian)
 *
 * The reference server zeroes the reserved bytes and sends its own messages with MAC 00:00:00:00:00:00;
 * [REC] real firmware may put a timestamp, serial and flag there, so detection does not depend on them
 * alone (see `looksLikeDwgHeader`).
 */
import { macAt } from '../capture/addresses.js';
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../capture/stream.js';
import type { AnalyzerResult, DinstarApiObservation, Malformed } from './types.js';

export const DWG_HEADER_LENGTH = 24;
/** Largest body detect() accepts: a SendSms of 1340 bytes of UCS-2 (the API's limit) plus its 30-byte preamble, rounded up. */
export const DWG_DETECT_MAX_BODY = 4096;
/** Largest body the framer follows before it declares the stream desynchronised. */
export const DWG_MAX_BODY = 65536;
/** Dinstar Technologies OUI (Wireshark manuf, §2.1). */
export const DINSTAR_OUI = 'f8:a0:3d';

/** Message types 0x00–0x12, in the source's words (DwgMessageType.cs). */
export const DWG_MESSAGE_NAMES: readonly string[] = [
  'KeepAlive',
  'SendSmsRequest', 'SendSmsResponse',
  'SendSmsResultRequest', 'SendSmsResultResponse',
  'ReceiveSmsMessageRequest', 'ReceiveSmsMessageResponse',
  'StatusRequest', 'StatusResponse',
  'SendUssdRequest', 'SendUssdResponse',
  'ReceiveUssdMessageRequest', 'ReceiveUssdMessageResponse',
  'CsqRssiRequest', 'CsqRssiResponse',
  'AuthenticationRequest', 'AuthenticationResponse',
  'ReceiveSmsReceiptRequest', 'ReceiveSmsReceiptResponse',
];

export const DwgMessageType = {
  KeepAlive: 0x00,
  SendSmsRequest: 0x01,
  ReceiveSmsMessageRequest: 0x05,
  StatusRequest: 0x07,
  AuthenticationRequest: 0x0f,
} as const;

export interface DwgHeader {
  bodyLength: number;
  /** Bytes 4–9 as `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  messageType: number;
  /** True when bytes 10–19 and 22–23 are all zero (as the reference implementation writes them). */
  reservedZero: boolean;
}

export function parseDwgHeader(buf: Buffer): DwgHeader | null {
  if (buf.length < DWG_HEADER_LENGTH) return null;
  let reservedZero = buf[22] === 0 && buf[23] === 0;
  for (let i = 10; i < 20 && reservedZero; i++) reservedZero = buf[i] === 0;
  return { bodyLength: buf.readUInt32BE(0), mac: macAt(buf, 4), messageType: buf.readUInt16BE(20), reservedZero };
}

/**
 * The detect rule, conservative on purpose (random or foreign binary must not match):
 *   1. at least one whole header, type ≤ 0x12, body length ≤ DWG_DETECT_MAX_BODY;
 *   2. the MAC is a unicast, non-zero address (the gateway speaks first and stamps its own MAC);
 *   3. and either the OUI is Dinstar's F8:A0:3D (§2.3 detector idea),
 *      or the 12 reserved bytes are all zero AND the body length fits the type where the source fixes it
 *      (KeepAlive 0, AuthenticationRequest 32). Twelve zero bytes alone make a random match ~2^-96.
 */
export function looksLikeDwgHeader(buf: Buffer): boolean {
  const h = parseDwgHeader(buf);
  if (!h || h.messageType >= DWG_MESSAGE_NAMES.length || h.bodyLength > DWG_DETECT_MAX_BODY) return false;
  const first = buf[4] ?? 0;
  if ((first & 1) !== 0 || h.mac === '00:00:00:00:00:00') return false;
  if (h.mac.startsWith(DINSTAR_OUI)) return true;
  if (!h.reservedZero) return false;
  if (h.messageType === DwgMessageType.KeepAlive) return h.bodyLength === 0;
  if (h.messageType === DwgMessageType.AuthenticationRequest) return h.bodyLength === 32;
  return true;
}

/** Text of a fixed-width, NUL-padded ASCII field; null when it holds anything but printable ASCII before the padding. */
export function readPaddedAscii(field: Buffer): string | null {
  let end = field.indexOf(0);
  if (end < 0) end = field.length;
  for (let i = 0; i < end; i++) {
    const c = field[i] ?? 0;
    if (c < 0x20 || c > 0x7e) return null;
  }
  for (let i = end; i < field.length; i++) if (field[i] !== 0) return null;
  return field.toString('latin1', 0, end);
}

export type DwgBodyResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** AuthenticationRequest: 16-byte user + 16-byte password, NUL-padded cleartext. Only the user is returned. */
export function parseDwgAuthentication(body: Buffer): DwgBodyResult<{ user: string }> {
  if (body.length < 32) return { ok: false, reason: 'authentication body shorter than 32 bytes' };
  const user = readPaddedAscii(body.subarray(0, 16));
  if (user === null) return { ok: false, reason: 'authentication user is not NUL-padded printable ASCII' };
  return { ok: true, value: { user } };
}

/** StatusRequest: port count, then one status byte per port (0 works, 1 no SIM, 2 not registered, 3 no hardware port). */
export function parseDwgStatus(body: Buffer): DwgBodyResult<{ portCount: number; portStatuses: number[] }> {
  if (body.length < 1) return { ok: false, reason: 'status body is empty' };
  const portCount = body[0] ?? 0;
  if (body.length - 1 < portCount) return { ok: false, reason: 'status body shorter than its port count' };
  return { ok: true, value: { portCount, portStatuses: [...body.subarray(1, 1 + portCount)] } };
}

/** GSM 03.38 default alphabet, one septet per byte (the reference implementation does not pack septets). */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION: Record<number, string> = {
  0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€',
};

export function decodeGsm7Unpacked(bytes: Buffer): string | null {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b > 0x7f) return null;
    if (b === 0x1b) {
      // Escape to the extension table; an unknown or missing second septet shows as a space (TS 23.038 §6.2.1.1).
      if (i + 1 < bytes.length) out += GSM7_EXTENSION[bytes[++i] ?? 0] ?? ' ';
      continue;
    }
    out += GSM7_BASIC[b] ?? '';
  }
  return out;
}

/** Encoding byte: 0 GSM 7-bit, 1 UCS-2 big-endian (Stuff.cs DwgSmsEncoding). */
export function decodeDwgSmsText(encoding: number, content: Buffer): string | null {
  if (encoding === 1) {
    if (content.length % 2 !== 0) return null;
    const le = Buffer.from(content);
    le.swap16();
    return le.toString('utf16le');
  }
  if (encoding === 0) return decodeGsm7Unpacked(content);
  return null;
}

export interface DwgSms {
  port: number;
  number: string;
  text: string;
}

/** ReceiveSmsMessageRequest: number[24], type, port, timestamp[15] (yyyyMMddHHmmss), timezone, encoding, length BE16, content. */
export function parseDwgReceiveSms(body: Buffer): DwgBodyResult<DwgSms> {
  if (body.length < 45) return { ok: false, reason: 'receive-SMS body shorter than 45 bytes' };
  const number = readPaddedAscii(body.subarray(0, 24));
  if (number === null) return { ok: false, reason: 'receive-SMS sender is not NUL-padded printable ASCII' };
  const length = body.readUInt16BE(43);
  if (45 + length > body.length) return { ok: false, reason: 'receive-SMS content length runs past the body' };
  const text = decodeDwgSmsText(body[42] ?? 255, body.subarray(45, 45 + length));
  if (text === null) return { ok: false, reason: `receive-SMS content does not decode as encoding ${body[42]}` };
  return { ok: true, value: { port: body[25] ?? 0, number, text } };
}

/** SendSmsRequest (server → gateway): port, encoding, type, number count, number[24], length BE16, content. */
export function parseDwgSendSms(body: Buffer): DwgBodyResult<DwgSms> {
  if (body.length < 30) return { ok: false, reason: 'send-SMS body shorter than 30 bytes' };
  const number = readPaddedAscii(body.subarray(4, 28));
  if (number === null) return { ok: false, reason: 'send-SMS recipient is not NUL-padded printable ASCII' };
  const length = body.readUInt16BE(28);
  if (30 + length > body.length) return { ok: false, reason: 'send-SMS content length runs past the body' };
  const text = decodeDwgSmsText(body[1] ?? 255, body.subarray(30, 30 + length));
  if (text === null) return { ok: false, reason: `send-SMS content does not decode as encoding ${body[1]}` };
  return { ok: true, value: { port: body[0] ?? 0, number, text } };
}

interface DirectionState {
  buf: Buffer;
  /** Frames whose bytes are still in `buf` (exact: a message that completes ends in the current segment). */
  frames: number[];
  /** Set after a framing error: the rest of this direction cannot be read. */
  desynchronised: boolean;
}

class DinstarStreamAnalyzer implements StreamAnalyzer {
  readonly protocol = 'dinstar-dwg';
  private readonly dirs: Record<'gateway' | 'server', DirectionState> = {
    gateway: { buf: Buffer.alloc(0), frames: [], desynchronised: false },
    server: { buf: Buffer.alloc(0), frames: [], desynchronised: false },
  };
  private gatewayMac: string | undefined;

  constructor(private readonly conn: TcpConnectionInfo) {}

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    // The gateway is the TCP client (it connects to the SMS server's listen port, §2.3).
    const from = fromClient ? 'gateway' : 'server';
    const dir = this.dirs[from];
    const result: AnalyzerResult = { observations: [] };
    if (dir.desynchronised || data.length === 0) return result;
    dir.buf = dir.buf.length ? Buffer.concat([dir.buf, data]) : Buffer.from(data);
    if (dir.frames[dir.frames.length - 1] !== frame) dir.frames.push(frame);

    while (dir.buf.length >= DWG_HEADER_LENGTH) {
      const header = parseDwgHeader(dir.buf);
      if (!header) break;
      if (header.bodyLength > DWG_MAX_BODY) {
        this.malformed(result, dir.frames, `body length over ${DWG_MAX_BODY} bytes: stream desynchronised, rest of the ${from} direction ignored`);
        dir.desynchronised = true;
        dir.buf = Buffer.alloc(0);
        break;
      }
      const total = DWG_HEADER_LENGTH + header.bodyLength;
      if (dir.buf.length < total) break;
      const body = dir.buf.subarray(DWG_HEADER_LENGTH, total);
      this.readMessage(result, from, header, body, dir.frames, ts);
      dir.buf = Buffer.from(dir.buf.subarray(total));
      dir.frames = dir.buf.length ? [frame] : [];
    }
    return result;
  }

  end(): AnalyzerResult {
    const result: AnalyzerResult = { observations: [] };
    for (const [from, dir] of Object.entries(this.dirs)) {
      if (dir.buf.length && !dir.desynchronised) {
        this.malformed(result, dir.frames, `unfinished message from the ${from} at end of stream`);
      }
      dir.buf = Buffer.alloc(0);
    }
    return result;
  }

  private readMessage(result: AnalyzerResult, from: 'gateway' | 'server', header: DwgHeader, body: Buffer, frames: number[], ts: number): void {
    const messageName = DWG_MESSAGE_NAMES[header.messageType];
    if (messageName === undefined) {
      this.malformed(result, frames, `unknown message type 0x${header.messageType.toString(16)} (not in DWG SMS API 2.0)`);
      return;
    }
    // The reference server stamps its own messages with a zero MAC: keep the gateway's for the whole connection.
    const headerMacSet = header.mac !== '00:00:00:00:00:00';
    if (from === 'gateway' && headerMacSet) this.gatewayMac = header.mac;
    const gatewayMac = this.gatewayMac ?? header.mac;
    const obs: DinstarApiObservation = {
      kind: 'dinstar-api',
      device: { ...this.conn.client, ...(this.gatewayMac ? { mac: this.gatewayMac } : {}) },
      peer: this.conn.server,
      ts,
      ref: { file: this.conn.fileIndex, frames: [...frames] },
      gatewayMac,
      messageType: header.messageType,
      messageName,
      bodyLength: header.bodyLength,
      from,
    };
    const failed = this.readBody(obs, header.messageType, body);
    if (failed) this.malformed(result, frames, `${messageName}: ${failed}`);
    result.observations.push(obs);
  }

  /** Fills the body facts the detector uses; returns why the body could not be read, if it could not. */
  private readBody(obs: DinstarApiObservation, type: number, body: Buffer): string | undefined {
    switch (type) {
      case DwgMessageType.AuthenticationRequest: {
        const r = parseDwgAuthentication(body);
        if (!r.ok) return r.reason;
        obs.user = r.value.user; // the password is never copied out of the body
        return undefined;
      }
      case DwgMessageType.StatusRequest: {
        const r = parseDwgStatus(body);
        if (!r.ok) return r.reason;
        obs.portCount = r.value.portCount;
        obs.portStatuses = r.value.portStatuses;
        return undefined;
      }
      case DwgMessageType.ReceiveSmsMessageRequest: {
        const r = parseDwgReceiveSms(body);
        if (!r.ok) return r.reason;
        Object.assign(obs, { port: r.value.port, smsSender: r.value.number, smsText: r.value.text });
        return undefined;
      }
      case DwgMessageType.SendSmsRequest: {
        const r = parseDwgSendSms(body);
        if (!r.ok) return r.reason;
        Object.assign(obs, { port: r.value.port, smsRecipient: r.value.number, smsText: r.value.text });
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** Reasons are counted per distinct string (pipeline stats), so they carry no per-message numbers. */
  private malformed(result: AnalyzerResult, frames: number[], reason: string): void {
    const m: Malformed = { protocol: this.protocol, reason, ref: { file: this.conn.fileIndex, frames: [...frames] } };
    (result.malformed ??= []).push(m);
  }
}

export const dinstarStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'dinstar-dwg',
  detect(firstData: Buffer): boolean {
    return looksLikeDwgHeader(firstData);
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new DinstarStreamAnalyzer(conn);
  },
};
