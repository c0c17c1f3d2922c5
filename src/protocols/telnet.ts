/**
 * Telnet login banners: the first bytes a telnet server sends, option negotiation (IAC, RFC 854) then a
 * greeting and a login prompt. Gateways are recognised by these bytes (nmap-service-probes, quoted in
 * goip-protocols.md):
 *
 *   GoIP (§1.6, line 4701)         FF FD 01 FF FD 1F FF FD 21 FF FB 01 FF FB 03  "\r\r\nLogin:"
 *   Dinstar VoIP (§2.3, 4917)      FF FB 01 FF FB 03 FF FD 18  "\r\nWelcome to Command Shell!\r\nUsername:"
 *   Dinstar SIMCloud (§2.3, 4935)  FF FD 01 FF FD 21 FF FB 01 FF FB 03  "Welcome to login the Cloud Server.\r\ndomain:"
 *   2N VoiceBlue Lite (§2.7, 4660) FF FD 01 FF FE 01 FF FB 01  ESC "[2J[ M113 ]  B-02.54 ..." "VB login:"
 *
 * The analyzer keeps the server's first ≤ 512 bytes, until a prompt or the cap, and reports them once: the
 * first 128 bytes as hex (the negotiation is part of the fingerprint) and the printable text.
 */
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../capture/stream.js';
import type { AnalyzerResult, TelnetBannerObservation } from './types.js';

export const TELNET_MAX_BANNER = 512;
export const TELNET_HEX_BYTES = 128;

const IAC = 0xff;
const SB = 0xfa;
const SE = 0xf0;
const WILL = 0xfb;
const DONT = 0xfe;
/** Highest option number in the IANA telnet registry (49, then 255 = extended options list). */
const MAX_OPTION = 49;

/** Greetings sent without negotiation first would still be one of these (§2.3); matched at the start of the text. */
export const KNOWN_TELNET_GREETINGS: readonly string[] = ['Welcome to Command Shell!', 'Welcome to login the Cloud Server'];

/** A prompt that waits for input ends the banner: `Login:`, `VB login:`, `Username:`, `domain:`, `Password:`. */
const PROMPT_AT_END = /(?:log ?in|user ?name|domain|password)[ \t]*:[ \t]*$/i;

/**
 * True when `buf` opens with well-formed telnet option negotiation: at least one IAC WILL/WONT/DO/DONT <option>,
 * every IAC sequence in the run well-formed, and the first byte after the run printable, CR, LF, TAB or ESC.
 * A random buffer passes with probability well under 1e-5 (0xFF, then 1 of 4 verbs, then 1 of 51 options, ...).
 */
export function looksLikeTelnetNegotiation(buf: Buffer): boolean {
  let i = 0;
  let negotiations = 0;
  while (i < buf.length && buf[i] === IAC) {
    const cmd = buf[i + 1];
    if (cmd === undefined) return negotiations > 0;
    if (cmd >= WILL && cmd <= DONT) {
      const opt = buf[i + 2];
      if (opt === undefined) return negotiations > 0;
      if (opt > MAX_OPTION && opt !== 0xff) return false;
      negotiations++;
      i += 3;
    } else if (cmd === SB) {
      const end = buf.indexOf(Buffer.from([IAC, SE]), i + 2);
      if (end < 0) return negotiations > 0;
      i = end + 2;
    } else if (cmd >= SE && cmd < SB) {
      i += 2; // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA
    } else return false;
  }
  if (negotiations === 0) return false;
  const next = buf[i];
  return next === undefined || (next >= 0x20 && next <= 0x7e) || next === 0x0d || next === 0x0a || next === 0x09 || next === 0x1b;
}

/** The data bytes of a telnet stream: IAC commands and subnegotiations removed, IAC IAC kept as one 0xFF. */
export function stripTelnetCommands(buf: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] ?? 0;
    if (b !== IAC) {
      out.push(b);
      continue;
    }
    const cmd = buf[i + 1];
    if (cmd === undefined) break;
    if (cmd === IAC) out.push(IAC);
    if (cmd === IAC || (cmd >= SE && cmd < SB)) i += 1;
    else if (cmd >= WILL && cmd <= DONT) i += 2;
    else if (cmd === SB) {
      const end = buf.indexOf(Buffer.from([IAC, SE]), i + 2);
      i = end < 0 ? buf.length : end + 1;
    } else i += 1;
  }
  return Buffer.from(out);
}

/**
 * Printable text of a banner: telnet commands and ANSI/VT100 escapes (`ESC [2J` clears the 2N screen) removed,
 * UTF-8 decoded, control characters other than CR, LF and TAB dropped.
 */
export function telnetBannerText(buf: Buffer): string {
  return new TextDecoder('utf-8')
    .decode(stripTelnetCommands(buf))
    .replace(/\u001b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])/g, '')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/g, '');
}

export function startsWithKnownGreeting(buf: Buffer): boolean {
  const head = buf.toString('latin1', 0, Math.min(buf.length, 64)).replace(/^[\r\n]+/, '');
  return KNOWN_TELNET_GREETINGS.some((g) => head.startsWith(g));
}

class TelnetStreamAnalyzer implements StreamAnalyzer {
  readonly protocol = 'telnet';
  private banner: Buffer[] = [];
  private length = 0;
  private frames: number[] = [];
  private lastTs: number;
  private reported = false;

  constructor(private readonly conn: TcpConnectionInfo) {
    this.lastTs = conn.ts;
  }

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    const result: AnalyzerResult = { observations: [] };
    // Only the server's first bytes are the banner; what the client types is not kept.
    if (fromClient || this.reported || data.length === 0) return result;
    const take = data.subarray(0, TELNET_MAX_BANNER - this.length);
    this.banner.push(Buffer.from(take)); // copy: the capture layer reuses `data`
    this.length += take.length;
    this.lastTs = ts;
    if (this.frames[this.frames.length - 1] !== frame) this.frames.push(frame);
    const collected = Buffer.concat(this.banner);
    if (this.length >= TELNET_MAX_BANNER || PROMPT_AT_END.test(telnetBannerText(collected))) this.report(result, collected);
    return result;
  }

  end(): AnalyzerResult {
    const result: AnalyzerResult = { observations: [] };
    // Closed before a prompt (or a login refused at once): what was sent is still the banner.
    if (!this.reported && this.length > 0) this.report(result, Buffer.concat(this.banner));
    return result;
  }

  private report(result: AnalyzerResult, collected: Buffer): void {
    this.reported = true;
    this.banner = [];
    const obs: TelnetBannerObservation = {
      kind: 'telnet-banner',
      device: this.conn.server,
      peer: this.conn.client,
      ts: this.lastTs,
      ref: { file: this.conn.fileIndex, frames: [...this.frames] },
      hex: collected.subarray(0, TELNET_HEX_BYTES).toString('hex'),
      text: telnetBannerText(collected),
    };
    result.observations.push(obs);
  }
}

export const telnetStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'telnet',
  /** Either side may negotiate first; a server may also greet without negotiating (known greetings only). */
  detect(firstData: Buffer, fromClient: boolean): boolean {
    return looksLikeTelnetNegotiation(firstData) || (!fromClient && startsWithKnownGreeting(firstData));
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new TelnetStreamAnalyzer(conn);
  },
};
