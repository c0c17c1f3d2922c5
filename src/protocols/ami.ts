/**
 * Asterisk-style manager interface (AMI, TCP 5038) as the SMS API of Yeastar TG (NeoGate) and OpenVox
 * VoxStack gateways (goip-protocols.md §2.4, §2.5). The gateway is the AMI server.
 *
 *   SMS script (client)                                   gateway (AMI server)
 *                                          ◄── Asterisk Call Manager/1.1            (one line, no blank line after)
 *   Action: Login / Username / Secret ──►
 *                                          ◄── Response: Success / Message: ...      (blank line ends a block)
 *   Action: SMSCommand                 ──►
 *   command: gsm send sms 2 +7... "Test+message"
 *                                          ◄── Response: Follows ... --END COMMAND--
 *                                          ◄── Event: UpdateSMSSend ... --END SMS EVENT--
 *                                          ◄── Event: ReceivedSMS / GsmSpan / Sender / Recvtime / Index /
 *                                              Total / Smsc / Content: %EF%BB%BF... / --END SMS EVENT--
 *
 * Wire format from a captured Yeastar TG transcript (gebv/yeastar-tg-sms api/README.md @196b2ce): the port key
 * is `GsmSpan` there, `GsmPort` in arsangel/yeastar_signal get_sms.sh (§2.4), so both are read. OpenVox sends
 * SMS with `Action: Command` / `Command: gsm send sync sms <span> <number> "<text>" <timeout>`
 * (antirek/openvox-sms index.js, §2.5).
 *
 * Only the gateway-SMS surface is reported (banner, Login user, gsm commands, SMS events, `gsm show span`):
 * an Asterisk PBX streams many other events that say nothing about a GSM gateway.
 */
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../capture/stream.js';
import type { AmiObservation, AnalyzerResult, Malformed } from './types.js';

export const AMI_BANNER_PREFIX = 'Asterisk Call Manager/';
/** Bound on one block (lines plus the unfinished line): a `gsm show spans` reply is a few KiB. */
export const AMI_MAX_BLOCK_BYTES = 64 * 1024;

export interface AmiBlock {
  /** `Key: Value` lines in order, key as sent. */
  fields: Array<[string, string]>;
  /** Lines that are not `Key: Value` (command output, terminators). */
  other: string[];
}

/** Split at the first ':' (values hold ':' as in `Recvtime: 2025-03-06 06:12:09`); one space after it is dropped. */
export function parseAmiBlock(lines: readonly string[]): AmiBlock {
  const block: AmiBlock = { fields: [], other: [] };
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('--')) block.other.push(line);
    else block.fields.push([line.slice(0, colon).trim(), line.slice(colon + 1).replace(/^ /, '')]);
  }
  return block;
}

/** First value of a key, compared without case (AMI keys are case-insensitive: `command` and `Command` both occur). */
export function amiField(block: AmiBlock, key: string): string | undefined {
  const k = key.toLowerCase();
  return block.fields.find(([name]) => name.toLowerCase() === k)?.[1];
}

export type ContentDecoding = { ok: true; text: string; decoded: boolean } | { ok: false; reason: string };

/**
 * Yeastar percent-encodes SMS text both ways: received `Content` (`+` for space, often a UTF-8 BOM first) and
 * the text of `gsm send sms` (gebv/yeastar-tg-sms api/README.md and api/client.go). A value with whitespace
 * or without `%`/`+` cannot be the encoder's output and is kept as sent (plain-text firmware, e.g. `Content: Ok`).
 */
export function decodeYeastarContent(raw: string): ContentDecoding {
  if (/\s/.test(raw) || !/[%+]/.test(raw)) return { ok: true, text: raw, decoded: false };
  let text: string;
  try {
    text = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch (e) {
    return { ok: false, reason: `Content is not percent-encoded UTF-8 (${e instanceof Error ? e.name : 'error'})` };
  }
  return { ok: true, text: text.replace(/^\uFEFF/, ''), decoded: true };
}

export interface GsmSendCommand {
  port: string;
  recipient: string;
  text: string;
}

/** `gsm send [sync] sms|csms <span> <number> "<text>" [...]` (Yeastar and OpenVox CLI). */
export function parseGsmSendCommand(command: string): GsmSendCommand | null {
  const m = /^gsm\s+send\s+(?:sync\s+)?c?sms\s+(\S+)\s+(\S+)\s+(?:"(.*)"|(\S+))/s.exec(command.trim());
  if (!m) return null;
  return { port: m[1] ?? '', recipient: m[2] ?? '', text: m[3] ?? m[4] ?? '' };
}

/** Identity lines of a `gsm show span N` reply (`Model IMEI:`, `SIM IMSI:`, `Network Name:`); masked values are dropped. */
export function readGsmSpanIdentity(block: AmiBlock): Pick<AmiObservation, 'imei' | 'imsi' | 'networkName'> {
  const out: Pick<AmiObservation, 'imei' | 'imsi' | 'networkName'> = {};
  const imei = amiField(block, 'Model IMEI')?.trim();
  const imsi = amiField(block, 'SIM IMSI')?.trim();
  const network = amiField(block, 'Network Name')?.trim();
  if (imei && /^\d{14,16}$/.test(imei)) out.imei = imei;
  if (imsi && /^\d{6,15}$/.test(imsi)) out.imsi = imsi;
  if (network) out.networkName = network;
  return out;
}

function integer(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

type Facts = Omit<AmiObservation, 'kind' | 'device' | 'peer' | 'ts' | 'ref'>;
interface BlockReading {
  facts?: Facts;
  malformed?: string;
}

/** A client block: Login (user only, never the Secret) and gsm commands. Other actions are not evidence. */
export function readClientBlock(block: AmiBlock): BlockReading {
  const action = amiField(block, 'Action');
  if (action === undefined) return { malformed: 'client block without Action' };
  const a = action.trim().toLowerCase();
  if (a === 'login') {
    const user = amiField(block, 'Username');
    return { facts: { action, ...(user !== undefined ? { user } : {}) } };
  }
  if (a !== 'smscommand' && a !== 'command') return {};
  const command = amiField(block, 'Command')?.trim();
  if (!command || !/^gsm\s/i.test(command)) return {};
  const facts: Facts = { action, command };
  const send = parseGsmSendCommand(command);
  if (!send) return { facts };
  facts.gsmPort = send.port;
  facts.smsRecipient = send.recipient;
  // Only Yeastar's smscommand URL-encodes the text; OpenVox's Command carries it plain (§2.5 source).
  const decoding = a === 'smscommand' ? decodeYeastarContent(send.text) : { ok: true as const, text: send.text, decoded: false };
  if (!decoding.ok) return { facts: { ...facts, smsText: send.text }, malformed: decoding.reason };
  facts.smsText = decoding.text;
  if (decoding.decoded) facts.smsContentRaw = send.text;
  return { facts };
}

/** A server block: SMS events and `gsm show span` identity. Other events and responses are not evidence. */
export function readServerBlock(block: AmiBlock): BlockReading {
  const event = amiField(block, 'Event');
  if (event === undefined) {
    if (amiField(block, 'Response')?.trim().toLowerCase() !== 'follows') return {};
    const identity = readGsmSpanIdentity(block);
    return Object.keys(identity).length ? { facts: { ...identity } } : {};
  }
  const e = event.trim();
  if (e === 'UpdateSMSSend') {
    const facts: Facts = { event: e };
    const smsc = amiField(block, 'Smsc');
    const id = amiField(block, 'ID');
    if (smsc) facts.smsc = smsc;
    if (id) facts.smsId = id;
    return { facts };
  }
  if (e !== 'ReceivedSMS') return {};
  const facts: Facts = { event: e };
  const port = amiField(block, 'GsmSpan') ?? amiField(block, 'GsmPort');
  const strings: Array<[keyof Facts, string | undefined]> = [
    ['gsmPort', port], ['smsSender', amiField(block, 'Sender')], ['recvTime', amiField(block, 'Recvtime')],
    ['smsc', amiField(block, 'Smsc')], ['smsId', amiField(block, 'ID')],
  ];
  for (const [key, value] of strings) if (value) Object.assign(facts, { [key]: value });
  const index = integer(amiField(block, 'Index'));
  const total = integer(amiField(block, 'Total'));
  if (index !== undefined) facts.smsIndex = index;
  if (total !== undefined) facts.smsTotal = total;
  const content = amiField(block, 'Content');
  if (content === undefined) return { facts, malformed: 'ReceivedSMS without Content' };
  const decoding = decodeYeastarContent(content);
  if (!decoding.ok) return { facts: { ...facts, smsText: content }, malformed: decoding.reason };
  facts.smsText = decoding.text;
  if (decoding.decoded) facts.smsContentRaw = content;
  return { facts };
}

interface DirectionState {
  /** Bytes after the last complete line. */
  partial: Buffer;
  lines: string[];
  bytes: number;
  frames: number[];
  /** Inside a `Response: Follows` block, where blank lines are output and `--END COMMAND--` ends it. */
  follows: boolean;
}

const utf8 = new TextDecoder('utf-8');

class AmiStreamAnalyzer implements StreamAnalyzer {
  readonly protocol = 'ami';
  private readonly dirs = { client: this.newDirection(), server: this.newDirection() };
  private lastTs: number;

  constructor(private readonly conn: TcpConnectionInfo) {
    this.lastTs = conn.ts;
  }

  private newDirection(): DirectionState {
    return { partial: Buffer.alloc(0), lines: [], bytes: 0, frames: [], follows: false };
  }

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    const dir = fromClient ? this.dirs.client : this.dirs.server;
    const result: AnalyzerResult = { observations: [] };
    if (data.length === 0) return result;
    this.lastTs = ts;
    if (dir.frames[dir.frames.length - 1] !== frame) dir.frames.push(frame);
    let buf = dir.partial.length ? Buffer.concat([dir.partial, data]) : data;
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      const line = utf8.decode(buf.subarray(start, nl)).replace(/\r$/, '');
      dir.bytes += nl + 1 - start;
      start = nl + 1;
      this.line(fromClient, dir, line, result, ts);
      if (dir.lines.length === 0 && start < buf.length) dir.frames = [frame];
    }
    buf = buf.subarray(start);
    if (dir.bytes + buf.length > AMI_MAX_BLOCK_BYTES) {
      this.malformed(result, dir.frames, `block over ${AMI_MAX_BLOCK_BYTES} bytes without an end: dropped`);
      Object.assign(dir, this.newDirection());
      return result;
    }
    dir.partial = Buffer.from(buf); // the capture layer reuses `data`: copy what is kept
    if (dir.lines.length === 0 && buf.length === 0) dir.frames = [];
    return result;
  }

  end(): AnalyzerResult {
    const result: AnalyzerResult = { observations: [] };
    for (const [side, dir] of Object.entries(this.dirs)) {
      if (dir.partial.length) dir.lines.push(utf8.decode(dir.partial).replace(/\r$/, ''));
      if (dir.lines.length) this.block(side === 'client', dir, result, this.lastTs, true);
      Object.assign(dir, this.newDirection());
    }
    return result;
  }

  private line(fromClient: boolean, dir: DirectionState, line: string, result: AnalyzerResult, ts: number): void {
    if (dir.lines.length === 0) {
      if (line === '') { dir.bytes = 0; return; } // stray blank line between blocks
      if (!fromClient && line.startsWith(AMI_BANNER_PREFIX)) {
        this.emit(result, dir.frames, ts, { banner: line.trim() });
        dir.bytes = 0;
        return;
      }
      dir.follows = !fromClient && /^Response:\s*Follows\s*$/i.test(line);
    }
    if (line === '' && !dir.follows) return this.block(fromClient, dir, result, ts, false);
    dir.lines.push(line);
    // Yeastar ends SMS events with --END SMS EVENT-- and command output with --END COMMAND-- (then a blank line).
    if (line === '--END SMS EVENT--' || (dir.follows && line.endsWith('--END COMMAND--'))) this.block(fromClient, dir, result, ts, false);
  }

  private block(fromClient: boolean, dir: DirectionState, result: AnalyzerResult, ts: number, atEnd: boolean): void {
    const block = parseAmiBlock(dir.lines);
    const frames = dir.frames;
    dir.lines = [];
    dir.bytes = 0;
    dir.follows = false;
    if (block.fields.length === 0) {
      this.malformed(result, frames, 'block without Key: Value lines');
      return;
    }
    const reading = fromClient ? readClientBlock(block) : readServerBlock(block);
    // A block cut by the end of the capture is still reported, but never silently.
    if (atEnd) this.malformed(result, frames, 'unfinished block at end of stream');
    if (reading.malformed) this.malformed(result, frames, reading.malformed);
    if (reading.facts) this.emit(result, frames, ts, reading.facts);
  }

  private emit(result: AnalyzerResult, frames: number[], ts: number, facts: Facts): void {
    result.observations.push({
      kind: 'ami',
      device: this.conn.server,
      peer: this.conn.client,
      ts,
      ref: { file: this.conn.fileIndex, frames: [...frames] },
      ...facts,
    });
  }

  private malformed(result: AnalyzerResult, frames: number[], reason: string): void {
    const m: Malformed = { protocol: this.protocol, reason, ref: { file: this.conn.fileIndex, frames: [...frames] } };
    (result.malformed ??= []).push(m);
  }
}

/** Client openings we claim: a login or an SMS command (a script may skip waiting for the banner). */
const CLIENT_OPENING = /^Action:[ \t]*(?:Login|SMSCommand|Command)[ \t]*\r?\n/i;
/** Server openings: the banner, or a Yeastar SMS event when the capture starts mid-connection. */
const SERVER_OPENING = /^(?:Asterisk Call Manager\/\d|Event:[ \t]*(?:ReceivedSMS|UpdateSMSSend)[ \t]*\r?\n)/;

export const amiStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'ami',
  detect(firstData: Buffer, fromClient: boolean): boolean {
    const head = firstData.toString('latin1', 0, Math.min(firstData.length, 64));
    return fromClient ? CLIENT_OPENING.test(head) : SERVER_OPENING.test(head);
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new AmiStreamAnalyzer(conn);
  },
};
