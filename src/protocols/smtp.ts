/**
 * SMTP sessions (RFC 5321) of a GoIP forwarding received SMS to e-mail ("smail"): one smtp-sms
 * observation per mail, about the SMTP client (the gateway).
 *
 *   client: EHLO <name> ─ AUTH LOGIN ─ MAIL ─ RCPT ─ DATA ─ headers ─ body ─ "." ─ (next mail | QUIT)
 *   server: 220 greeting, 334 AUTH prompts, 354 go ahead, 220 after STARTTLS (the rest is TLS)
 *
 * The GoIP mail, as in the NiceLabs capture (shared/external/nicelabs-goip/smtp.pcap, frames 4–41;
 * goip-protocols.md §1.2): `EHLO sms-agent.lan`, `AUTH LOGIN`, `X-Mailer: smail 0.1`, `Subject: SMS`,
 * `Content-Transfer-Encoding: base64`, and a UTF-8 body
 *   SN:<serial> Channel:<n> Sender:<MM-DD HH:MM:SS>,<sender>,<text>\n
 * The field after the time is the SMS originator ("SmarTone" in the capture, the carrier's own
 * alphanumeric sender of a balance notice): it follows the label "Sender:" and has the same place as
 * the sender in the web UI's inbox rows "MM-DD HH:MM:SS,sender,body" (§1.5). Credentials are never kept.
 */
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../capture/stream.js';
import type { AnalyzerResult, Endpoint, SmtpSmsObservation } from './types.js';

/** Longest line kept (RFC 5321 §4.5.3.1.6 allows 1000; smail puts a whole base64 body on one line). */
const MAX_LINE = 64 * 1024;
/** Bytes of one mail (headers + body) kept; the rest is counted out. */
const MAX_MAIL = 64 * 1024;
const MAX_REF_FRAMES = 32;
/** Commands awaiting their reply (RFC 2920 pipelining sends several before reading any answer). */
const MAX_AWAITING = 32;

const GREETING = Buffer.from('220', 'latin1');

export const smtpStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'smtp',
  detect(firstData: Buffer): boolean {
    // The server speaks first ("220 " or a multi-line "220-"); accept a client EHLO/HELO too, in case
    // the greeting was not captured.
    if (firstData.length >= 4 && firstData.compare(GREETING, 0, 3, 0, 3) === 0 && (firstData[3] === 0x20 || firstData[3] === 0x2d)) return true;
    const verb = firstData.toString('latin1', 0, 5).toUpperCase();
    return verb === 'EHLO ' || verb === 'HELO ';
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new SmtpSession(conn);
  },
};

/** Splits one direction into lines (LF, an optional CR stripped), keeping at most MAX_LINE bytes of a line. */
class LineReader {
  private partial: Buffer[] = [];
  private partialBytes = 0;

  *lines(data: Buffer): Generator<string> {
    let at = 0;
    while (at < data.length) {
      const nl = data.indexOf(0x0a, at);
      const end = nl === -1 ? data.length : nl;
      const room = MAX_LINE - this.partialBytes;
      if (room > 0) {
        // Copy: the capture layer reuses `data` after push returns.
        const piece = Buffer.from(data.subarray(at, Math.min(end, at + room)));
        this.partial.push(piece);
        this.partialBytes += piece.length;
      }
      if (nl === -1) return;
      let line = Buffer.concat(this.partial, this.partialBytes);
      if (line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      this.partial = [];
      this.partialBytes = 0;
      at = nl + 1;
      // latin1 keeps every byte; mail text is decoded from bytes later with its own charset.
      yield line.toString('latin1');
    }
  }
}

type ClientState = 'command' | 'auth' | 'data-wait' | 'data' | 'starttls-wait' | 'tls';

interface Mail {
  lines: string[];
  bytes: number;
  frames: number[];
}

class SmtpSession implements StreamAnalyzer {
  readonly protocol = 'smtp';
  private readonly readers = { client: new LineReader(), server: new LineReader() };
  /** Which side sends the commands; decided by content (the side that answers "ddd ..." is the server). */
  private commandsFromClient: boolean | undefined;
  private state: ClientState = 'command';
  private ehlo: string | undefined;
  private authLogin = false;
  private tls = false;
  private sessionFrames: number[] = [];
  /** Verbs of the commands sent and not yet answered, oldest first, to pair each reply with its command. */
  private awaiting: string[] = [];
  /** The mail being sent, from its DATA command to the "." line (or a refusal). */
  private mail: Mail | null = null;
  private lastTs: number;

  constructor(private readonly conn: TcpConnectionInfo) {
    this.lastTs = conn.ts;
  }

  /** After STARTTLS succeeded the bytes are TLS records: nothing more to read. */
  private get encrypted(): boolean {
    return this.state === 'tls';
  }

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    const observations: SmtpSmsObservation[] = [];
    this.lastTs = ts;
    if (this.encrypted) return { observations };
    for (const line of this.readers[fromClient ? 'client' : 'server'].lines(data)) {
      if (this.commandsFromClient === undefined) this.commandsFromClient = /^\d{3}[ -]/.test(line) ? !fromClient : fromClient;
      if (fromClient === this.commandsFromClient) this.onClientLine(line, frame, ts, observations);
      else this.onServerLine(line);
      if (this.encrypted) break;
    }
    return { observations };
  }

  end(): AnalyzerResult {
    const observations: SmtpSmsObservation[] = [];
    // A capture that stops inside DATA still tells which gateway forwarded a mail.
    if (this.mail !== null) observations.push(this.finishMail(this.lastTs));
    return { observations };
  }

  private onClientLine(line: string, frame: number, ts: number, out: SmtpSmsObservation[]): void {
    if (this.state === 'data-wait') this.state = 'data'; // the 354 was not captured; the client went on
    if (this.state === 'data' && this.mail !== null) {
      const mail = this.mail;
      addFrame(mail.frames, frame);
      // RFC 5321 §4.1.1.4: a line with only "." ends the mail data.
      if (line === '.') {
        out.push(this.finishMail(ts));
        this.expectReply('.');
        this.state = 'command';
        return;
      }
      // RFC 5321 §4.5.2: a leading "." was doubled by the sender.
      const text = line.startsWith('.') ? line.slice(1) : line;
      if (mail.bytes + text.length + 2 <= MAX_MAIL) {
        mail.lines.push(text);
        mail.bytes += text.length + 2;
      }
      return;
    }
    const verb = (line.split(' ', 1)[0] ?? '').toUpperCase();
    if (this.state === 'auth') {
      // AUTH exchange lines are base64 credentials: skip them, and never store them.
      if (verb !== 'MAIL' && verb !== 'QUIT' && verb !== 'RSET') return;
      this.state = 'command';
    }
    this.expectReply(verb);
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        this.ehlo = line.slice(5).trim() || undefined;
        addFrame(this.sessionFrames, frame);
        break;
      case 'AUTH': {
        const mechanism = (line.split(' ')[1] ?? '').toUpperCase();
        if (mechanism === 'LOGIN') this.authLogin = true;
        addFrame(this.sessionFrames, frame);
        this.state = 'auth';
        break;
      }
      case 'STARTTLS':
        this.tls = true;
        addFrame(this.sessionFrames, frame);
        this.state = 'starttls-wait';
        break;
      case 'DATA':
        this.mail = { lines: [], bytes: 0, frames: [frame] };
        this.state = 'data-wait';
        break;
      default:
        break;
    }
  }

  private expectReply(verb: string): void {
    if (this.awaiting.length < MAX_AWAITING) this.awaiting.push(verb);
  }

  private onServerLine(line: string): void {
    // Reply lines are "ddd text" or, before the last line of a multi-line reply, "ddd-text" (RFC 5321 §4.2).
    if (!/^\d{3}(?:[ -]|$)/.test(line) || line[3] === '-') return;
    const code = Number(line.slice(0, 3));
    // 334 asks for the next AUTH line (RFC 4954 §4): the AUTH command is not answered yet.
    if (code === 334) return;
    // The greeting answers no command; every other final reply answers the oldest one.
    const verb = this.awaiting.shift();
    if (verb === 'AUTH' && this.state === 'auth') this.state = 'command';
    else if (verb === 'DATA' && this.state === 'data-wait') {
      if (code === 354) this.state = 'data';
      else {
        // DATA refused: no mail follows.
        this.mail = null;
        this.state = 'command';
      }
    }
    // RFC 3207 §4: after "220" to STARTTLS the connection is TLS; nothing more is readable.
    else if (verb === 'STARTTLS' && this.state === 'starttls-wait') this.state = code === 220 ? 'tls' : 'command';
  }

  private finishMail(ts: number): SmtpSmsObservation {
    const mail = this.mail ?? { lines: [], bytes: 0, frames: [] };
    this.mail = null;
    const frames = [...new Set([...this.sessionFrames, ...mail.frames])].sort((a, b) => a - b);
    const client: Endpoint = this.commandsFromClient === false ? this.conn.server : this.conn.client;
    const server: Endpoint = this.commandsFromClient === false ? this.conn.client : this.conn.server;
    const obs: SmtpSmsObservation = {
      kind: 'smtp-sms',
      device: client,
      peer: server,
      ts,
      ref: { file: this.conn.fileIndex, frames },
      authLogin: this.authLogin,
      tls: this.tls,
    };
    if (this.ehlo !== undefined) obs.ehlo = this.ehlo;
    const message = readMessage(mail.lines);
    const mailer = message.headers.get('x-mailer');
    if (mailer !== undefined) obs.mailer = mailer;
    const subject = message.headers.get('subject');
    if (subject !== undefined) obs.subject = decodeEncodedWords(subject);
    const sms = parseGoipSmsMail(decodeBody(message));
    if (sms !== undefined) Object.assign(obs, sms);
    return obs;
  }
}

function addFrame(frames: number[], frame: number): void {
  if (frames.length < MAX_REF_FRAMES && !frames.includes(frame)) frames.push(frame);
}

/** Internet Message Format (RFC 5322 §2.2): header fields up to the first empty line, then the body. */
function readMessage(lines: string[]): { headers: Map<string, string>; body: string[] } {
  const headers = new Map<string, string>();
  let name: string | undefined;
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') { i++; break; }
    if ((line.startsWith(' ') || line.startsWith('\t')) && name !== undefined) {
      // Folded field (RFC 5322 §2.2.3): unfold into the previous value.
      headers.set(name, `${headers.get(name) ?? ''} ${line.trim()}`.trim());
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    name = line.slice(0, colon).trim().toLowerCase();
    // The first occurrence wins: a mail has one Subject / X-Mailer.
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
    else name = undefined;
  }
  return { headers, body: lines.slice(i) };
}

/** Body text after its Content-Transfer-Encoding (RFC 2045 §6): base64, quoted-printable, or as sent. */
function decodeBody(message: { headers: Map<string, string>; body: string[] }): string {
  const cte = (message.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  const raw = message.body.join('\r\n');
  let bytes: Buffer;
  if (cte === 'base64') bytes = Buffer.from(raw.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  else if (cte === 'quoted-printable') bytes = decodeQuotedPrintable(raw);
  else bytes = Buffer.from(raw, 'latin1'); // 7bit/8bit: the lines were kept byte for byte
  return decodeCharset(bytes, message.headers.get('content-type'));
}

function decodeQuotedPrintable(text: string): Buffer {
  // RFC 2045 §6.7: "=" + CRLF is a soft line break, "=XX" one byte.
  const unfolded = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < unfolded.length; i++) {
    const hex = unfolded.slice(i + 1, i + 3);
    if (unfolded[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(unfolded.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function decodeCharset(bytes: Buffer, contentType: string | undefined): string {
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset === 'iso-8859-1' || charset === 'latin1' || charset === 'us-ascii') return bytes.toString('latin1');
  // GoIP's smail declares utf-8; an undeclared or other charset is read as UTF-8 too (bad bytes become U+FFFD).
  return bytes.toString('utf8');
}

/** RFC 2047 encoded-words in a header value (`=?UTF-8?B?…?=`, `=?utf-8?Q?…?=`). */
function decodeEncodedWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_word, charset: string, enc: string, text: string) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : decodeQuotedPrintable(text.replace(/_/g, ' '));
    return decodeCharset(bytes, `charset=${charset}`);
  });
}

const GOIP_SMS_BODY = /^SN:(\S+) Channel:(\S+) Sender:(\d{2}-\d{2} \d{2}:\d{2}:\d{2}),([^,]*),([\s\S]*)$/;

/** The GoIP SMS-forward body (layout checked on the NiceLabs capture, see the file header). */
export function parseGoipSmsMail(body: string): Pick<SmtpSmsObservation, 'serial' | 'channel' | 'smsTime' | 'smsSender' | 'text'> | undefined {
  const m = GOIP_SMS_BODY.exec(body.replace(/^\s+/, ''));
  if (m === null) return undefined;
  return {
    serial: m[1] ?? '',
    channel: m[2] ?? '',
    smsTime: m[3] ?? '',
    smsSender: m[4] ?? '',
    // smail ends the body with one "\n"; it is not part of the SMS.
    text: (m[5] ?? '').replace(/\r?\n$/, ''),
  };
}
