/**
 * AT framing: bytes from a serial port → lines, the SMS prompt, and what each line is. Pure: no
 * I/O, no timers, so every sample in at-commands.md can be fed to it byte by byte in a test.
 *
 *   chunks ─► AtFramer ─┬─► { line }      text between terminators: \r\n, \r\r\n, \n, \r (any run)
 *                       ├─► { prompt }    "\r\n> " with nothing after it (27.005 +CMGS), §1.2
 *                       └─► { overflow }  a line longer than maxLineBytes: dropped, counted
 *
 *   line ─► classifyFinal()  OK / ERROR / +CME ERROR / … (MM mm-serial-parsers.c, §1.2, §3.4)
 *        └► UrcRegistry      RING / +CMTI / +CMT (two lines) / +CREG / ^RSSI … (§1.3, §1.8, §1.10, §2.4, §3.3)
 *
 * Why any run of CR/LF ends a line (and empty lines are dropped): SIMCom ends URCs with
 * "\r\r\n" (§1.10), some devices put only "\n" before NO CARRIER (§0.1), u-blox echo ends with a
 * lone "\r" before the module's "\r\n" (§2.5). Splitting on "\r\n" alone mishandles all three
 * (§4, "Parsers"). A line is emitted as soon as its first CR or LF arrives, so a chunk boundary
 * between "\r" and "\n" never matters.
 *
 * Why the prompt is its own event: "\r\n> " has no newline after it, so a line splitter (and
 * serialport's ReadlineParser) never emits it and the command hangs (§4). MM matches
 * `\r\n>\s*$` at the end of the buffer (§1.2); we do the same at the end of each chunk.
 */
import { isUtf8 } from 'node:buffer';
import type { FinalResult } from './types.js';

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export type AtFrame =
  /** `text` is the escaped line (see escapeAtBytes), `noise` marks garbage (see isNoiseLine). */
  | { kind: 'line'; text: string; raw: Buffer; noise: boolean }
  /** The SMS prompt; `text` is what came (`>` or `> `). */
  | { kind: 'prompt'; text: string }
  /** Bytes of an over-long line that were dropped. */
  | { kind: 'overflow'; dropped: number };

const CR = 0x0d;
const LF = 0x0a;
const GT = 0x3e;
const SPACE = 0x20;

export class AtFramer {
  private readonly maxLineBytes: number;
  private buf: Buffer = Buffer.alloc(256);
  private used = 0;
  /** Dropping the rest of an over-long line until its terminator. */
  private discarding = 0;
  /** A prompt was just emitted: spaces that follow belong to it ("> "), not to a new line. */
  private afterPrompt = false;

  constructor(opts: { maxLineBytes?: number } = {}) {
    this.maxLineBytes = Math.max(16, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  }

  /** Bytes held of a line not yet terminated. */
  get pending(): number {
    return this.used;
  }

  push(chunk: Buffer): AtFrame[] {
    const out: AtFrame[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === CR || b === LF) {
        this.afterPrompt = false;
        this.endLine(out);
        continue;
      }
      if (this.afterPrompt && b === SPACE) continue;
      this.afterPrompt = false;
      if (this.discarding > 0) {
        this.discarding++;
        if (this.discarding > this.maxLineBytes) {
          out.push({ kind: 'overflow', dropped: this.discarding - 1 });
          this.discarding = 1;
        }
        continue;
      }
      if (this.used >= this.maxLineBytes) {
        // Bounded memory: a modem spewing without line breaks (wrong baud, binary mode) must not
        // grow the buffer; MM drops half its 2048-byte buffer in the same situation (§1.1).
        out.push({ kind: 'overflow', dropped: this.used });
        this.used = 0;
        this.discarding = 2; // this byte, counted from 1
        continue;
      }
      this.append(b);
    }
    // Only at the end of what has arrived can ">" be the prompt: the module then waits for us.
    if (this.discarding === 0 && this.used > 0 && this.used <= 8 && this.buf[0] === GT && onlySpacesAfterFirst(this.buf, this.used)) {
      out.push({ kind: 'prompt', text: escapeAtBytes(this.buf.subarray(0, this.used)) });
      this.used = 0;
      this.afterPrompt = true;
    }
    return out;
  }

  /** End of input (port closed): the unterminated rest, as a line. */
  flush(): AtFrame[] {
    const out: AtFrame[] = [];
    this.endLine(out);
    this.afterPrompt = false;
    return out;
  }

  /** Drop buffered input (resynchronisation, §3.2); returns how many bytes were dropped. */
  reset(): number {
    const dropped = this.used + Math.max(0, this.discarding - 1);
    this.used = 0;
    this.discarding = 0;
    this.afterPrompt = false;
    return dropped;
  }

  private endLine(out: AtFrame[]): void {
    if (this.discarding > 0) {
      if (this.discarding > 1) out.push({ kind: 'overflow', dropped: this.discarding - 1 });
      this.discarding = 0;
      return;
    }
    if (this.used === 0) return; // the empty lines between "\r\n\r\n" carry nothing
    const raw = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    out.push({ kind: 'line', text: escapeAtBytes(raw), raw, noise: isNoiseLine(raw) });
  }

  private append(b: number): void {
    if (this.used === this.buf.length) {
      const bigger = Buffer.alloc(Math.min(this.buf.length * 2, this.maxLineBytes));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.buf[this.used++] = b;
  }
}

function onlySpacesAfterFirst(buf: Buffer, used: number): boolean {
  for (let i = 1; i < used; i++) if (buf[i] !== SPACE) return false;
  return true;
}

/**
 * Bytes → text that is printable ASCII and can be turned back into the same bytes: `\\` for a
 * backslash, `\r` `\n` `\t`, and `\xHH` (upper-case hex) for every other byte outside 0x20–0x7E.
 * Transcripts store this form, so a dump is exact evidence of what came over the wire.
 */
export function escapeAtBytes(bytes: Buffer): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x5c) s += '\\\\';
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else if (b === CR) s += '\\r';
    else if (b === LF) s += '\\n';
    else if (b === 0x09) s += '\\t';
    else s += '\\x' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return s;
}

/** The inverse of escapeAtBytes; undefined when `text` is not in that form. */
export function unescapeAtText(text: string): Buffer | undefined {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const next = text[i + 1];
    if (next === '\\') out.push(0x5c);
    else if (next === 'r') out.push(CR);
    else if (next === 'n') out.push(LF);
    else if (next === 't') out.push(0x09);
    else if (next === 'x' && /^[0-9A-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 2;
    } else return undefined;
    i++;
  }
  return Buffer.from(out);
}

/**
 * Garbage, not an answer: a line with no visible ASCII character that is either blank or not
 * text (control bytes, invalid UTF-8) — line noise at power-up or after a baud mismatch (§3.6).
 * Kept in the transcript, never put into a response. A UTF-8 text line (a text-mode SMS body in
 * Chinese) has no ASCII either but is valid UTF-8 without control bytes, so it is kept.
 */
export function isNoiseLine(raw: Buffer): boolean {
  let control = false;
  for (const b of raw) {
    if (b > 0x20 && b < 0x7f) return false;
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) control = true;
  }
  return control || !isUtf8(raw) || raw.every((b) => b === SPACE || b === 0x09);
}

// ---------------------------------------------------------------------------------------------
// Final results

export interface FinalMatch {
  final: FinalResult;
  errorCode?: number | string;
}

const CALL_END = new Set(['NO CARRIER', 'BUSY', 'NO ANSWER', 'NO DIALTONE']);

/**
 * Is this line a final result code? Order and forms follow MM's v1 parser (§1.2): numeric CME/CMS
 * before the text forms; `+CME ERROR:` with nothing after the colon is NOT final, but
 * `+CME ERROR: ` with a space is (its code is then ''). `COMMAND NOT SUPPORT` and Samsung
 * `MODEM ERROR: n` (reported as ERROR with its code) are the anomalies of §3.4.
 */
export function classifyFinal(line: string): FinalMatch | undefined {
  const t = line.trimEnd();
  if (t === 'OK') return { final: 'OK' };
  if (t === 'ERROR') return { final: 'ERROR' };
  if (/^CONNECT(\s|$)/.test(line)) return { final: 'CONNECT' };
  const num = /^\+CM([ES]) ERROR:\s*(\d+)\s*$/.exec(line);
  if (num) return { final: num[1] === 'E' ? 'CME ERROR' : 'CMS ERROR', errorCode: Number(num[2]) };
  const txt = /^\+CM([ES]) ERROR: (.*)$/.exec(line);
  if (txt) return { final: txt[1] === 'E' ? 'CME ERROR' : 'CMS ERROR', errorCode: (txt[2] as string).trim() };
  if (CALL_END.has(t)) return { final: t as FinalResult };
  if (t === 'COMMAND NOT SUPPORT') return { final: 'COMMAND NOT SUPPORT' };
  const modem = /^MODEM ERROR:\s*(\d+)$/.exec(t);
  if (modem) return { final: 'ERROR', errorCode: Number(modem[1]) };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Unsolicited result codes

export interface UrcSpec {
  /** `+CMTI`, `^RSSI`, `VOICE CALL` (matched before the first ':'), or a whole line (`RING`). */
  name: string;
  match: 'prefix' | 'exact';
  /** True when this header line is followed by a data line (PDU or text body) that belongs to it. */
  secondLine?: (header: string) => boolean;
  /** Where the form is documented (at-commands.md section or spec). */
  source: string;
}

const always = (): boolean => true;
/** PDU mode `+CDS: <length>` / `+CBM: <length>` is followed by the PDU; text-mode +CDS is one line (27.005 §3.4.1). */
const lengthOnly = (header: string): boolean => /^\+C(DS|BM):\s*\d+\s*$/.test(header);

function prefixes(source: string, names: string[]): UrcSpec[] {
  return names.map((name) => ({ name, match: 'prefix', source }));
}
function words(source: string, names: string[]): UrcSpec[] {
  return names.map((name) => ({ name, match: 'exact', source }));
}

/** The URCs goipwatch knows out of the box; drivers add their own (AtChannelOptions.urcs). */
export const DEFAULT_URCS: readonly UrcSpec[] = [
  ...words('§1.10 (RING may end \\r\\r\\n)', ['RING']),
  ...prefixes('§1.10 voice URCs; 27.007 §7.12 +CCWA', ['+CRING', '+CLIP', '+CCWA']),
  { name: '+CMT', match: 'prefix', secondLine: always, source: '§1.8: +CMT header then PDU or text body' },
  { name: '+CDS', match: 'prefix', secondLine: lengthOnly, source: '§1.8 CDS regex' },
  { name: '+CBM', match: 'prefix', secondLine: always, source: '§1.8 CBM regex' },
  ...prefixes('§1.8 CMTI regex; 27.005 +CDSI', ['+CMTI', '+CDSI']),
  ...prefixes('§1.3: unsolicited only when not answering AT+CxREG? (responsePrefix)', ['+CREG', '+CGREG', '+CEREG', '+C5GREG']),
  ...prefixes('§1.8 CUSD/CIEV regexes; §1.10 ^CIEV', ['+CUSD', '+CIEV', '^CIEV']),
  ...prefixes('§1.10 SIMCom plugin URCs', ['+CPIN', '+RXDTMF', '+NITZ', 'VOICE CALL', 'MISSED_CALL']),
  ...prefixes('§3.3 boot bursts; Quectel +QUSIM, +QIND', ['+CFUN', '+QUSIM', '+QIND']),
  ...words('§3.3 boot/ready bursts (SIM800, SIMCom, Quectel)', ['RDY', 'Call Ready', 'SMS Ready', 'PB DONE', 'SMS DONE', 'POWERED DOWN']),
  ...prefixes('remote-SIM markers (GoIP SIM bank; brief)', ['+SIMDATA', '+SIMRESET']),
  ...prefixes('Cinterion start-up URC', ['^SYSSTART']),
  ...prefixes('§2.4 Huawei URC noise (MM l.~4866-4932)', [
    '^RSSI', '^RSSILVL', '^HRSSILVL', '^MODE', '^DSFLOWRPT', '^NDISSTAT', '^ORIG', '^CONF', '^CONN', '^CEND',
    '^DDTMF', '^BOOT', '^CSNR', '+CUSATP', '+CUSATEND', '^DSDORMANT', '^SIMST', '^SRVST', '^STIN', '^HCSQ',
    '^PDPDEACT', '^NDISEND', '^RFSWITCH', '^POSITION', '^POSEND', '^ECCLIST', '^LTERSRP', '^CSCHANNELINFO',
    '^CCALLSTATE', '^EONS',
  ]),
];

/** The name a line would have as a URC: the part before the first ':' (or the whole line). */
export function urcNameOf(line: string): string {
  const colon = line.indexOf(':');
  return (colon >= 0 ? line.slice(0, colon) : line).trim();
}

/** Looks up URC specs by name in O(1): prefixes by the text before ':', words by the whole line. */
export class UrcRegistry {
  private readonly byPrefix = new Map<string, UrcSpec>();
  private readonly byLine = new Map<string, UrcSpec>();

  constructor(specs: readonly UrcSpec[] = DEFAULT_URCS) {
    for (const s of specs) this.add(s);
  }

  add(spec: UrcSpec): void {
    (spec.match === 'prefix' ? this.byPrefix : this.byLine).set(spec.name, spec);
  }

  match(line: string): UrcSpec | undefined {
    return this.byPrefix.get(urcNameOf(line)) ?? this.byLine.get(line.trim());
  }
}

/**
 * The `+XXX` / `^XXX` names a command line asks for, which answer it rather than arrive
 * unsolicited: `AT+CREG?` → `+CREG`; `AT+COPS=3,2;+COPS?` → `+COPS`; `AT^SYSINFO` → `^SYSINFO`.
 * This is the default responsePrefix (types.ts), per §1.3: the same `+CREG: 1,3` is an answer after
 * AT+CREG? and a URC otherwise.
 */
export function solicitedNames(command: string): string[] {
  const body = command.replace(/^AT/i, '');
  const names: string[] = [];
  for (const part of body.split(';')) {
    const m = /^\s*([+^#$%*][A-Za-z0-9_]+)/.exec(part);
    if (m) names.push((m[1] as string).toUpperCase());
  }
  return names;
}

/**
 * Is this line the echo of the command (`upperEscapedCommand`: escapeAtBytes of the command,
 * upper-cased)? Line noise before it (power-up, baud change) is tolerated, as MM skips anything
 * before the first CRLF as "echo or garbage" (§1.2).
 */
export function isEcho(line: string, upperEscapedCommand: string): boolean {
  const l = line.trimEnd().toUpperCase();
  if (l === upperEscapedCommand) return true;
  return l.endsWith(upperEscapedCommand) && /^(\\X[0-9A-F]{2}|\\[RNT]|\s)*$/.test(l.slice(0, l.length - upperEscapedCommand.length));
}

/** goipwatch writes single AT command lines only: no CR/LF/ESC/Ctrl-Z inside (that is how SMS text is sent). */
export function commandLineRefusal(command: string): string | undefined {
  if (!/^AT/i.test(command)) return 'not an AT command line';
  if (!/^[\x20-\x7e]*$/.test(command)) return 'contains control or non-ASCII characters';
  return undefined;
}
