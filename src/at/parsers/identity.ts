/**
 * Module and SIM identity: +CGMI/+CGMM/+CGMR and ATI, IMEI (+CGSN/+GSN), SIM state (+CPIN),
 * IMSI (+CIMI), ICCID in every dialect (+CCID, +ICCID, ^ICCID, +QCCID, +CRSM on EF_ICCID) and
 * the own number (+CNUM). Rules and vectors: at-commands.md §1.7 and §5.
 */
import { afterPrefix, contentLines, fail, splitParams, toInt, type Parsed } from './common.js';
import { decodeTeString, type TeCharset } from './charset.js';

/** Labels some modules put in front of identity answers (`Revision: 1418B04SIM800L24`, §5). */
const IDENTITY_LABELS = ['+CGMI', '+GMI', '+CGMM', '+GMM', '+CGMR', '+GMR', 'Manufacturer', 'Model', 'Revision'];

/**
 * The value of +CGMI, +CGMM or +CGMR: the first information line with a label removed. Inner
 * spaces are kept verbatim: the Wavecom model is `MULTIBAND  900E  1800` with two spaces (§2.3).
 */
export function parseIdentityValue(lines: readonly string[]): Parsed<string> {
  for (const raw of contentLines(lines)) {
    let value = raw;
    for (const label of IDENTITY_LABELS) {
      const rest = afterPrefix(raw, label);
      if (rest !== undefined) {
        value = rest;
        break;
      }
    }
    value = value.replace(/^"(.*)"$/, '$1').trim();
    if (value) return value;
  }
  return fail('no identity line in the answer');
}

export interface AtiIdentity {
  manufacturer?: string;
  model?: string;
  revision?: string;
  imei?: string;
  /** All lines, joined with '\n': what ModuleIdentity.ati keeps. */
  text: string;
}

/**
 * ATI: labelled (`Manufacturer: SIMCOM INCORPORATED` / `Model:` / `Revision:` / `IMEI:`, SIM7600
 * in §2.2, MM gsm-port.conf §1.11) or a bare banner (`SIM800 R14.18`, §5), kept whole in `text`.
 */
export function parseAti(lines: readonly string[]): Parsed<AtiIdentity> {
  const content = contentLines(lines);
  if (content.length === 0) return fail('ATI gave no text');
  const out: AtiIdentity = { text: content.join('\n') };
  for (const line of content) {
    const m = /^(Manufacturer|Model|Revision|IMEI)\s*:\s*(.*)$/i.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (!value) continue;
    if (key === 'manufacturer') out.manufacturer ??= value;
    else if (key === 'model') out.model ??= value;
    else if (key === 'revision') out.revision ??= value;
    else if (/^\d{14,16}$/.test(value)) out.imei ??= value;
  }
  return out;
}

/**
 * Luhn check over the digits (ISO/IEC 7812-1; the IMEI's last digit, GoIP manual §5.3.12 via §5).
 * The one implementation: the modem findings use it too.
 */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export interface ImeiReading {
  imei: string;
  /** What followed a comma (`356936001568843,NL2A62Z0N5`: a serial number, §1.7). */
  serial?: string;
  /** 8-digit type allocation code (§5). */
  tac: string;
  /** Luhn result for a 15-digit IMEI; undefined for 14 (no check digit) or 16 (IMEISV) digits. */
  checkDigitValid?: boolean;
  /** All zeros: a placeholder or a wiped module (Ai-Thinker A9, §5). */
  allZero: boolean;
}

/**
 * AT+CGSN / AT+GSN (also `+CGSN: "…"` and `IMEI: …` forms). A value that is not 14–16 digits is
 * an error, never "fixed": a rewritten IMEI is evidence as it stands (§5).
 */
export function parseImei(lines: readonly string[]): Parsed<ImeiReading> {
  for (const raw of contentLines(lines)) {
    let v = afterPrefix(raw, '+CGSN') ?? afterPrefix(raw, '+GSN') ?? afterPrefix(raw, 'IMEI') ?? raw;
    v = v.replace(/"/g, '').trim();
    const comma = v.indexOf(',');
    const serial = comma >= 0 ? v.slice(comma + 1).trim() : undefined;
    if (comma >= 0) v = v.slice(0, comma).trim();
    if (!/^\d{14,16}$/.test(v)) continue;
    const out: ImeiReading = { imei: v, tac: v.slice(0, 8), allZero: /^0+$/.test(v) };
    if (serial) out.serial = serial;
    if (v.length === 15) out.checkDigitValid = luhnValid(v);
    return out;
  }
  return fail('no 14-16 digit IMEI in the answer');
}

/** SIM states of +CPIN (27.007 §8.3; MM unlock_results, §1.7) plus the CME errors that stand for one. */
export type SimState =
  | 'READY' | 'SIM PIN' | 'SIM PUK' | 'SIM PIN2' | 'SIM PUK2' | 'PH-SIM PIN' | 'PH-FSIM PIN' | 'PH-FSIM PUK'
  | 'PH-NET PIN' | 'PH-NET PUK' | 'PH-NETSUB PIN' | 'PH-NETSUB PUK' | 'PH-SP PIN' | 'PH-SP PUK'
  | 'PH-CORP PIN' | 'PH-CORP PUK' | 'NOT INSERTED' | 'SIM FAILURE' | 'SIM BUSY' | 'SIM WRONG';

/** Longest first, so that "SIM PIN2" is tried before "SIM PIN" (MM's order matters, §1.7). */
const CPIN_STATES: SimState[] = ([
  'READY', 'SIM PIN2', 'SIM PUK2', 'SIM PIN', 'SIM PUK', 'PH-NETSUB PIN', 'PH-NETSUB PUK', 'PH-FSIM PIN',
  'PH-FSIM PUK', 'PH-CORP PIN', 'PH-CORP PUK', 'PH-SIM PIN', 'PH-NET PIN', 'PH-NET PUK', 'PH-SP PIN', 'PH-SP PUK',
] as SimState[]).sort((a, b) => b.length - a.length);

/** 27.007 §9.2.1 CME codes that describe the SIM (include/ModemManager-errors.h, §1.2). */
const CME_SIM: ReadonlyMap<number, SimState> = new Map([
  [10, 'NOT INSERTED'], [11, 'SIM PIN'], [12, 'SIM PUK'], [13, 'SIM FAILURE'], [14, 'SIM BUSY'], [15, 'SIM WRONG'],
]);

/** The same, as verbose CME texts normalised MM's way (lowercase, letters only, §1.2). */
const CME_SIM_TEXT: ReadonlyMap<string, SimState> = new Map([
  ['simnotinserted', 'NOT INSERTED'], ['simpinrequired', 'SIM PIN'], ['simpukrequired', 'SIM PUK'],
  ['simfailure', 'SIM FAILURE'], ['simbusy', 'SIM BUSY'], ['simwrong', 'SIM WRONG'],
]);

export interface SimStateReading {
  state: SimState;
  /** The line or error it was read from. */
  raw: string;
}

/**
 * AT+CPIN?. `errorCode` is the +CME ERROR of the answer: a SIM that is not inserted answers
 * `+CME ERROR: 10`, not a +CPIN line. `+CME ERROR: 100` (unknown) is an error, as in MM.
 * Wavecom sends `+CPIN: READY` with no OK (§2.3): pass that line in `lines` as well.
 */
export function parseCpin(lines: readonly string[], errorCode?: number | string): Parsed<SimStateReading> {
  for (const raw of contentLines(lines)) {
    const rest = (afterPrefix(raw, '+CPIN') ?? raw).replace(/"/g, '').trim().toUpperCase();
    const state = CPIN_STATES.find((s) => rest === s || rest.startsWith(`${s} `));
    if (state) return { state, raw };
  }
  if (typeof errorCode === 'number') {
    const state = CME_SIM.get(errorCode);
    if (state) return { state, raw: `+CME ERROR: ${errorCode}` };
    return fail(`SIM state unknown (+CME ERROR: ${errorCode})`);
  }
  if (typeof errorCode === 'string') {
    const state = CME_SIM_TEXT.get(errorCode.toLowerCase().replace(/[^a-z]/g, ''));
    if (state) return { state, raw: `+CME ERROR: ${errorCode}` };
    return fail(`SIM state unknown (+CME ERROR: ${errorCode})`);
  }
  return fail('no +CPIN state in the answer');
}

/** AT+CIMI: decimal digits only, 6–15 of them (mm-base-sim.c: "Invalid +CIMI response" otherwise, §1.7). */
export function parseCimi(lines: readonly string[]): Parsed<string> {
  for (const raw of contentLines(lines)) {
    const v = (afterPrefix(raw, '+CIMI') ?? raw).replace(/"/g, '').trim();
    if (/^\d{6,15}$/.test(v)) return v;
  }
  return fail('no IMSI (6-15 decimal digits) in the answer');
}

/**
 * One ICCID value, by mm_3gpp_parse_iccid's rules (§1.7): leading spaces and quotes skipped;
 * digits anywhere and A–F from index 6 on (CMCC puts hex in the account part); 19 or 20
 * characters; `89…` as is or `98…` nibble-swapped (raw EF_ICCID, then exactly 20); one
 * trailing F dropped.
 */
export function normalizeIccid(raw: string): Parsed<string> {
  let s = raw.replace(/^[\s"]+/, '');
  const end = s.search(/[\s"]/);
  if (end >= 0) s = s.slice(0, end);
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (/\d/.test(c)) continue;
    if (i >= 6 && /[A-Fa-f]/.test(c)) continue;
    return fail(`ICCID has an invalid character '${c}' at index ${i}`);
  }
  s = s.toUpperCase();
  if (s.length < 19 || s.length > 20) return fail(`ICCID has ${s.length} characters, not 19 or 20`);
  if (s.startsWith('98')) {
    if (s.length !== 20) return fail('nibble-swapped ICCID is not 20 digits');
    s = swapNibbles(s);
  } else if (!s.startsWith('89')) {
    return fail(`ICCID does not start with 89 (major industry identifier), starts with ${s.slice(0, 2)}`);
  }
  return s.endsWith('F') ? s.slice(0, -1) : s;
}

/** `98 44 02 …` → `89 44 20 …`: BCD with the low nibble first, as stored on the SIM. */
export function swapNibbles(hex: string): string {
  let out = '';
  for (let i = 0; i + 1 < hex.length; i += 2) out += hex[i + 1]! + hex[i]!;
  return out;
}

const ICCID_PREFIXES = ['+CCID', '+ICCID', '^ICCID', '+QCCID', '+CICCID', 'ICCID', '^SCID', '+SCID'];

/**
 * The ICCID from AT+CCID (u-blox/Wavecom `+CCID: "…"`, SIM800 bare digits), AT+CICCID (SIM7600
 * `+ICCID: …`), AT^ICCID? (Huawei, may be nibble-swapped) or AT+QCCID (Quectel 2G, bare).
 */
export function parseIccid(lines: readonly string[]): Parsed<string> {
  let lastError = 'no ICCID line in the answer';
  for (const raw of contentLines(lines)) {
    let v = raw;
    for (const p of ICCID_PREFIXES) {
      const rest = afterPrefix(raw, p);
      if (rest !== undefined) {
        v = rest;
        break;
      }
    }
    const r = normalizeIccid(v);
    if (typeof r === 'string') return r;
    lastError = r.error;
  }
  return fail(lastError);
}

export interface CrsmReply {
  sw1: number;
  sw2: number;
  /** Response data, hex uppercased, quotes and spaces removed; '' when there is none. */
  data: string;
}

/** `+CRSM: 144, 0, "0054…"`: the hex may be quoted or not, with spaces around (MM crsm_tests, §1.7). */
export function parseCrsm(lines: readonly string[]): Parsed<CrsmReply> {
  for (const raw of contentLines(lines)) {
    const rest = afterPrefix(raw, '+CRSM');
    if (rest === undefined) continue;
    const f = splitParams(rest);
    const sw1 = toInt(f[0]?.text);
    const sw2 = toInt(f[1]?.text);
    if (sw1 === undefined || sw2 === undefined) return fail(`+CRSM without status words: ${raw}`);
    const data = (f[2]?.text ?? '').replace(/\s+/g, '');
    if (data && !/^[0-9A-Fa-f]*$/.test(data)) return fail(`+CRSM data is not hex: ${raw}`);
    return { sw1, sw2, data: data.toUpperCase() };
  }
  return fail('no +CRSM line in the answer');
}

/**
 * ICCID from AT+CRSM=176,12258,0,0,10 (READ BINARY of EF_ICCID 0x2FE2). MM accepts sw1 0x90,
 * 0x91, 0x92 and 0x9F (§1.7). The file is always BCD with swapped nibbles, so it is swapped
 * here whatever it starts with, then checked like any other ICCID.
 */
export function iccidFromCrsm(lines: readonly string[]): Parsed<string> {
  const r = parseCrsm(lines);
  if ('error' in r) return r;
  if (![0x90, 0x91, 0x92, 0x9f].includes(r.sw1)) return fail(`SIM refused the read: sw1 ${r.sw1} sw2 ${r.sw2}`);
  if (r.data.length !== 20) return fail(`EF_ICCID read gave ${r.data.length / 2} bytes, not 10`);
  return normalizeIccid(swapNibbles(r.data));
}

export interface OwnNumber {
  alpha?: string;
  number: string;
  /** Type of address: 145 international, 129/161 national or unknown (§1.7). */
  type?: number;
}

/**
 * AT+CNUM: `+CNUM: [alpha],"number",type` per line; the alpha tag may be empty, quoted or bare.
 * Under CSCS "UCS2" alpha and number come as UCS-2 hex (§3.5 item 9): pass the charset. Many
 * prepaid SIMs answer only OK: an empty list, not an error (§1.7).
 */
export function parseCnum(lines: readonly string[], charset?: TeCharset): Parsed<OwnNumber[]> {
  const out: OwnNumber[] = [];
  for (const raw of contentLines(lines)) {
    const rest = afterPrefix(raw, '+CNUM');
    if (rest === undefined) continue;
    const f = splitParams(rest);
    if (f.length < 2) return fail(`+CNUM line with too few fields: ${raw}`);
    const number = decodeTeString(f[1]!.text, charset).replace(/\s+/g, '');
    // An empty record (`+CNUM: "","",129`): the SIM has the slot but no number in it.
    if (number === '') continue;
    if (!/^\+?[0-9*#]{1,24}$/.test(number)) return fail(`+CNUM number is not a dial string: ${raw}`);
    const entry: OwnNumber = { number };
    const alpha = decodeTeString(f[0]!.text, charset);
    if (alpha) entry.alpha = alpha;
    const type = toInt(f[2]?.text);
    if (type !== undefined) entry.type = type;
    out.push(entry);
  }
  return out;
}
