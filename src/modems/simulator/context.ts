/**
 * What a command handler sees, how a command line is split, and how errors are worded.
 *
 *   "AT+COPS=3,0;+COPS?\r" ──► splitCommandLine ──► [ {+COPS set [3,0]}, {+COPS read} ]
 *                                                        │ handler(cmd, ctx) per sub-command
 *                                                        ▼
 *                                                   Reply { lines, final }  (stop at the first error)
 *
 * Compound lines are how MM asks for the operator (`AT+COPS=3,2;+COPS?`, at-commands.md §1.4/§1.11),
 * so the splitter follows V.250: basic commands may run together (`ATE0V1`), extended ones are
 * separated by `;`, D takes the rest of the line.
 */
import type { VendorProfile } from './profiles.js';
import type { FaultState } from './faults.js';
import type { AttemptKind, ModemSettings, ModemState, Reply, SimCard } from './types.js';

export interface ParsedCommand {
  /** Upper-case name: '+CGSN', '^SYSINFO', 'E', '&W', 'S0', 'D'. */
  name: string;
  type: 'exec' | 'read' | 'test' | 'set';
  /** Arguments split on commas outside quotes, trimmed, quotes kept. */
  args: string[];
  /** Number after a basic command (E1 → "1"); the dial string for D. */
  value: string;
  /** The sub-command as sent, for records ("+CMGD=1,4"). */
  text: string;
}

export interface CommandContext {
  readonly profile: VendorProfile;
  readonly state: ModemState;
  readonly settings: ModemSettings;
  readonly faults: FaultState;
  /** How long slow commands take (ms). */
  readonly timing: { copsScanMs: number };
  /** Number of the call ringing in, while RING is being sent. */
  readonly ringingNumber: string | undefined;
  /** The usable SIM, or the error reply (no SIM, PIN lock, 'cme-errors' fault). `sms` picks +CMS wording. */
  sim(kind?: 'sim' | 'sms'): SimCard | Reply;
  /** Record a destructive or state-changing command. */
  attempt(kind: AttemptKind, applied: boolean, detail?: string): void;
  /** Record a state change caused by a read. */
  sideEffect(detail: string): void;
  /** Queue a URC to follow the answer. */
  urc(line: string): void;
  /** After a `prompt` final: the body typed after "> " (cancelled on ESC). */
  expectPromptBody(handler: (body: string, cancelled: boolean) => Reply): void;
  /** Reset session settings as at power-up (ATZ / AT&F). */
  resetSettings(): void;
}

export type Handler = (cmd: ParsedCommand, ctx: CommandContext) => Reply;

/** Split `a,"b,c", d` on commas outside double quotes. */
export function splitArgs(text: string): string[] {
  if (text.trim() === '') return [];
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

export function unquote(s: string | undefined): string {
  if (s === undefined) return '';
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** Integer argument, or undefined when absent or not a number. */
export function intArg(s: string | undefined): number | undefined {
  if (s === undefined || !/^\s*\d+\s*$/.test(s)) return undefined;
  return parseInt(s, 10);
}

/**
 * Split one command line (without its CR) into sub-commands; undefined when it does not start
 * with AT or cannot be parsed (the module answers ERROR).
 */
export function splitCommandLine(line: string): ParsedCommand[] | undefined {
  const m = /^\s*AT/i.exec(line);
  if (!m) return undefined;
  const s = line.slice(m[0].length);
  const out: ParsedCommand[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charAt(i);
    if (c === ' ' || c === ';') {
      i++;
      continue;
    }
    if ('+^$%#*'.includes(c)) {
      const nameMatch = /^[+^$%#*][A-Za-z0-9_]+/.exec(s.slice(i));
      if (!nameMatch) return undefined;
      const name = nameMatch[0].toUpperCase();
      i += nameMatch[0].length;
      // The argument runs to the next ';' outside quotes.
      let j = i;
      let quoted = false;
      while (j < s.length && (quoted || s.charAt(j) !== ';')) {
        if (s.charAt(j) === '"') quoted = !quoted;
        j++;
      }
      const rest = s.slice(i, j);
      i = j;
      const text = name + rest;
      if (rest === '') out.push({ name, type: 'exec', args: [], value: '', text });
      else if (rest === '?') out.push({ name, type: 'read', args: [], value: '', text });
      else if (rest === '=?') out.push({ name, type: 'test', args: [], value: '', text });
      else if (rest.startsWith('=')) out.push({ name, type: 'set', args: splitArgs(rest.slice(1)), value: '', text });
      else return undefined;
      continue;
    }
    const upper = c.toUpperCase();
    if (upper === 'D') {
      out.push({ name: 'D', type: 'exec', args: [], value: s.slice(i + 1), text: s.slice(i) });
      break;
    }
    if (upper === 'S') {
      const sm = /^S(\d+)(=(\d*)|\?)?/i.exec(s.slice(i));
      if (!sm) return undefined;
      const type = sm[2] === '?' ? 'read' : sm[2] ? 'set' : 'exec';
      out.push({ name: `S${sm[1] ?? ''}`, type, args: sm[3] !== undefined ? [sm[3]] : [], value: sm[3] ?? '', text: sm[0] });
      i += sm[0].length;
      continue;
    }
    const bm = /^(&?[A-Za-z])(\d*)/.exec(s.slice(i));
    if (!bm) return undefined;
    const name = (bm[1] ?? '').toUpperCase();
    out.push({ name, type: 'exec', args: [], value: bm[2] ?? '', text: bm[0] });
    i += bm[0].length;
  }
  return out;
}

/** 27.007 §9.2 texts for CMEE=2 (the codes MM maps, at-commands.md §1.2). */
const CME_TEXT: Record<number, string> = {
  3: 'operation not allowed', 4: 'operation not supported', 10: 'SIM not inserted', 11: 'SIM PIN required',
  12: 'SIM PUK required', 13: 'SIM failure', 14: 'SIM busy', 15: 'SIM wrong', 16: 'incorrect password',
  20: 'memory full', 21: 'invalid index', 22: 'not found', 30: 'no network service', 100: 'unknown',
};

/** 27.005 §3.2.5 texts. */
const CMS_TEXT: Record<number, string> = {
  302: 'operation not allowed', 303: 'operation not supported', 304: 'invalid PDU mode parameter',
  305: 'invalid text mode parameter', 310: 'SIM not inserted', 311: 'SIM PIN required', 313: 'SIM failure',
  314: 'SIM busy', 321: 'invalid memory index', 322: 'memory full', 500: 'unknown error',
};

export function ok(lines: string[] = []): Reply {
  return { lines, final: { kind: 'ok' } };
}

export function error(lines: string[] = []): Reply {
  return { lines, final: { kind: 'error' } };
}

/** +CME ERROR as CMEE asks: 0 plain ERROR, 1 numeric, 2 text. */
export function cmeError(settings: ModemSettings, code: number): Reply {
  if (settings.cmee === 0) return error();
  return { lines: [], final: { kind: 'cme', code: settings.cmee === 2 ? (CME_TEXT[code] ?? 'unknown') : code } };
}

/** +CMS ERROR, worded by CMEE the same way (what SIMCom and Quectel do; inference). */
export function cmsError(settings: ModemSettings, code: number): Reply {
  if (settings.cmee === 0) return error();
  return { lines: [], final: { kind: 'cms', code: settings.cmee === 2 ? (CMS_TEXT[code] ?? 'unknown error') : code } };
}

export function isReply(x: SimCard | Reply): x is Reply {
  return 'final' in x;
}

/** Hex of UTF-16BE, for CSCS="UCS2" string fields (§3.5, MM u-blox COPS test §1.4). */
export function ucs2Hex(text: string): string {
  return Buffer.from(text, 'utf16le').swap16().toString('hex').toUpperCase();
}

/** A string field in the session's character set. */
export function charsetText(settings: ModemSettings, text: string): string {
  return settings.cscs.toUpperCase() === 'UCS2' ? ucs2Hex(text) : text;
}
