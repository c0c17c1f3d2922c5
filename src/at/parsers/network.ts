/**
 * Network answers: operator (+COPS? and the +COPS=? scan), registration (+CREG/+CGREG/+CEREG/
 * +C5GREG, solicited and unsolicited) and signal (+CSQ, +CESQ). Vectors: at-commands.md
 * §1.3–§1.5, all from ModemManager's src/tests/test-modem-helpers.c.
 */
import type { AccessTechnology } from '../../../drivers/types.js';
import { decodeTeString, decodeUcs2Hex, type TeCharset } from './charset.js';
import {
  actFrom27007, afterPrefix, contentLines, fail, splitParams, toHexId, toInt, type AtField, type Parsed,
} from './common.js';

export interface OperatorId {
  mcc: string;
  mnc: string;
}

/** `"41201"` → 412/01, `"342600"` → 342/600; MCC 000, letters, 3 or 7 digits are refused (§1.4). */
export function parseOperatorId(numeric: string): Parsed<OperatorId> {
  const s = numeric.trim();
  if (!/^\d{5,6}$/.test(s)) return fail(`operator id '${s}' is not 5 or 6 digits`);
  if (s.startsWith('000')) return fail(`operator id '${s}' has MCC 000`);
  return { mcc: s.slice(0, 3), mnc: s.slice(3) };
}

export type OperatorStatus = 'unknown' | 'available' | 'current' | 'forbidden';
const OPERATOR_STATUS: OperatorStatus[] = ['unknown', 'available', 'current', 'forbidden'];

export interface ScannedOperator {
  stat: number;
  status: OperatorStatus;
  long: string;
  short: string;
  numeric: string;
  /** From `numeric` when it is a valid 5/6-digit PLMN (the Option Quicksilver sends 7 digits, §1.4). */
  mcc?: string;
  mnc?: string;
  act?: number;
  accessTechnology?: AccessTechnology;
}

/** UCS-2 is recognised without being told when the numeric field is hex that decodes to digits. */
function tupleIsUcs2(numeric: string): boolean {
  if (numeric.length < 20) return false;
  const d = decodeUcs2Hex(numeric);
  return d !== undefined && /^\d{5,7}$/.test(d);
}

/**
 * AT+COPS=? (a scan that takes minutes, §1.6). Tolerates what MM's vectors show (§1.4): several
 * `+COPS:` lines, CRLF between tuples, a stray `)` before the AcT (Sony Ericsson TM-506), no
 * AcT, empty names, commas inside quotes, a missing comma before the trailing lists, UCS-2 hex
 * strings. Tuples without a quoted name or numeric field (the trailing `(0,1,2,3,4),(0,1,2)`
 * mode and format lists) are ignored, so a scan listing no operator is an empty list.
 * Duplicates are kept: a scan is evidence of what the module reported.
 */
export function parseCopsScan(lines: readonly string[], charset?: TeCharset): Parsed<ScannedOperator[]> {
  const content = contentLines(lines);
  let sawPrefix = false;
  const text = content.map((l) => {
    const rest = afterPrefix(l, '+COPS');
    if (rest !== undefined) sawPrefix = true;
    return rest ?? l;
  }).join('');
  if (!sawPrefix) return fail('no +COPS line in the answer');
  const out: ScannedOperator[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('(', i);
    if (open < 0) break;
    let j = open + 1;
    let inQuote = false;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '"') inQuote = !inQuote;
      else if (c === ')' && !inQuote) break;
    }
    const fields = splitParams(text.slice(open + 1, j));
    i = j + 1;
    // Sony Ericsson TM-506: `(2,"T - Mobile","T - Mobile","310260"),2)`: the AcT sits after the ')'.
    const stray = /^\s*,\s*(\d{1,2})\s*\)/.exec(text.slice(i));
    let strayAct: number | undefined;
    if (stray && fields.length === 4) {
      strayAct = Number(stray[1]);
      i += stray[0].length;
    }
    const entry = operatorTuple(fields, charset, strayAct);
    if (entry) out.push(entry);
  }
  return out;
}

function operatorTuple(f: AtField[], charset: TeCharset | undefined, strayAct: number | undefined): ScannedOperator | undefined {
  if (f.length < 4) return undefined;
  const stat = toInt(f[0]!.text);
  if (stat === undefined || f[0]!.quoted || stat < 0 || stat > 3) return undefined;
  if (!f[1]!.quoted && !f[2]!.quoted && !f[3]!.quoted) return undefined;
  const cs: TeCharset | undefined = charset ?? (tupleIsUcs2(f[3]!.text) ? 'UCS2' : undefined);
  const entry: ScannedOperator = {
    stat,
    status: OPERATOR_STATUS[stat]!,
    long: decodeTeString(f[1]!.text, cs),
    short: decodeTeString(f[2]!.text, cs),
    numeric: cs === 'UCS2' ? decodeTeString(f[3]!.text, cs) : f[3]!.text,
  };
  const id = parseOperatorId(entry.numeric);
  if (!('error' in id)) Object.assign(entry, id);
  const act = f.length >= 5 ? toInt(f[4]!.text) : strayAct;
  if (act !== undefined) {
    entry.act = act;
    entry.accessTechnology = actFrom27007(act);
  }
  return entry;
}

export interface CurrentOperator {
  /** 0 automatic, 1 manual, 2 deregister, 3 format only, 4 manual/automatic. */
  mode: number;
  /** 0 long, 1 short, 2 numeric. */
  format?: number;
  operator?: string;
  mcc?: string;
  mnc?: string;
  act?: number;
  accessTechnology?: AccessTechnology;
}

/** AT+COPS?: `+COPS: 1,0,"CHINA MOBILE",7`, `+COPS: 1,2,"46000"`, or `+COPS: 0` when not registered (§1.4). */
export function parseCopsRead(lines: readonly string[], charset?: TeCharset): Parsed<CurrentOperator> {
  for (const raw of contentLines(lines)) {
    const rest = afterPrefix(raw, '+COPS');
    if (rest === undefined) continue;
    const f = splitParams(rest);
    const mode = toInt(f[0]?.text);
    if (mode === undefined) return fail(`+COPS without a mode: ${raw}`);
    const out: CurrentOperator = { mode };
    const format = toInt(f[1]?.text);
    if (format !== undefined) out.format = format;
    const oper = f[2]?.text;
    if (oper) {
      const cs = charset ?? (format === 2 && tupleIsUcs2(oper) ? 'UCS2' : undefined);
      out.operator = decodeTeString(oper, cs);
      if (format === 2) {
        const id = parseOperatorId(out.operator);
        if (!('error' in id)) Object.assign(out, id);
      }
    }
    const act = toInt(f[3]?.text);
    if (act !== undefined) {
      out.act = act;
      out.accessTechnology = actFrom27007(act);
    }
    return out;
  }
  return fail('no +COPS line in the answer');
}

export type RegistrationCommand = 'CREG' | 'CGREG' | 'CEREG' | 'C5GREG';

/** 27.007 <stat>, as MM's tests map it (§1.3). */
export const REGISTRATION_STATES = [
  'idle', 'home', 'searching', 'denied', 'unknown', 'roaming', 'home-sms-only', 'roaming-sms-only',
  'emergency-only', 'home-csfb-not-preferred', 'roaming-csfb-not-preferred', 'attached-rlos',
] as const;
export type RegistrationState = (typeof REGISTRATION_STATES)[number];

export interface Registration {
  command: RegistrationCommand;
  /** The URC mode, present in solicited answers (and in URCs of modules that send the solicited form). */
  n?: number;
  stat: number;
  state: RegistrationState;
  /** Registered to a network: home, roaming, or their SMS-only/CSFB variants. */
  registered: boolean;
  /** Hex, as reported (uppercased): LAC for +CREG/+CGREG, TAC for +CEREG/+C5GREG. */
  lac?: string;
  tac?: string;
  ci?: string;
  rac?: string;
  act?: number;
  accessTechnology?: AccessTechnology;
  raw: string;
}

/** Is the answer to AT+CREG? (solicited: it starts with <n>) or a URC (it starts with <stat>)? */
export type RegistrationContext = 'solicited' | 'unsolicited';

const REG_PREFIX = /^\s*\+(C|CG|CE|C5G)REG:\s*(.*)$/i;

/** An unquoted small decimal (leading zeros allowed, `0011`): a candidate <n>, <stat> or <AcT>. */
function smallInt(f: AtField | undefined, max: number): number | undefined {
  if (!f || f.quoted) return undefined;
  const v = toInt(f.text);
  return v !== undefined && v >= 0 && v <= max ? v : undefined;
}

/** A field that can only be <AcT>: unquoted, at most 3 digits, 0–13 (`0`, `000`, `7`). */
function actLike(f: AtField | undefined): boolean {
  return !!f && !f.quoted && f.text.length <= 3 && smallInt(f, 13) !== undefined;
}

/**
 * One +CREG/+CGREG/+CEREG/+C5GREG line. The same text means different things solicited and
 * unsolicited (`+CREG: 1,3` answers AT+CREG? with n=1 stat=3; a URC starts with stat), so the
 * caller says which (§1.3). Some modules send the solicited form as a URC (Sony Ericsson MD400
 * `+CREG: 2,5,"0502","0404736D"`, Samsung S8500, Altair), which is recognised by its shape:
 * a URC with a small <n> and <stat> first, and a cell id (not an AcT) where the AcT would be.
 * After <stat>: lac,ci[,act[,rac]] or, with a RAC between (+CEREG on Novatel E362), tac,rac,ci,act.
 */
export function parseRegistration(line: string, context: RegistrationContext): Parsed<Registration> {
  const m = REG_PREFIX.exec(line.replace(/[\r\n]+/g, ''));
  if (!m) return fail('not a +CREG/+CGREG/+CEREG/+C5GREG line');
  const command = `${m[1]!.toUpperCase()}REG` as RegistrationCommand;
  const f = splitParams(m[2]!);
  let withN: boolean;
  if (context === 'solicited') withN = true;
  else {
    const leadingPair = smallInt(f[0], 5) !== undefined && smallInt(f[1], 11) !== undefined && f[1]!.text.length <= 4;
    if (f.length === 2) withN = leadingPair;
    else if (f.length === 3) withN = false;
    else if (f.length === 4) withN = leadingPair && !actLike(f[3]);
    else withN = leadingPair && f[1]!.text.length <= 2;
  }
  const n = withN ? smallInt(f[0], 9) : undefined;
  if (withN && n === undefined) return fail(`registration <n> is not a number: ${line.trim()}`);
  const stat = smallInt(withN ? f[1] : f[0], 255);
  if (stat === undefined) return fail(`registration <stat> missing or not a number: ${line.trim()}`);
  if (stat >= REGISTRATION_STATES.length) return fail(`registration <stat> ${stat} is out of range`);
  const state = REGISTRATION_STATES[stat]!;
  const out: Registration = {
    command, stat, state, raw: line.trim(),
    registered: ['home', 'roaming', 'home-sms-only', 'roaming-sms-only', 'home-csfb-not-preferred', 'roaming-csfb-not-preferred'].includes(state),
  };
  if (n !== undefined) out.n = n;
  const rest = f.slice(withN ? 2 : 1);
  let area: AtField | undefined;
  let ci: AtField | undefined;
  let act: AtField | undefined;
  let rac: AtField | undefined;
  if (rest.length >= 2) {
    area = rest[0];
    if (rest.length >= 4 && !actLike(rest[2]) && actLike(rest[3])) {
      [rac, ci, act] = [rest[1], rest[2], rest[3]];
    } else {
      ci = rest[1];
      // Samsung S8500 appends `, B, C2816` (§1.3): no AcT there, so nothing after it is a RAC either.
      if (actLike(rest[2])) [act, rac] = [rest[2], rest[3]];
    }
  }
  const areaHex = toHexId(area?.text);
  if (areaHex !== undefined) {
    if (command === 'CEREG' || command === 'C5GREG') out.tac = areaHex;
    else out.lac = areaHex;
  }
  const ciHex = toHexId(ci?.text);
  if (ciHex !== undefined) out.ci = ciHex;
  const racHex = toHexId(rac?.text);
  if (racHex !== undefined) out.rac = racHex;
  if (actLike(act)) {
    out.act = toInt(act!.text)!;
    out.accessTechnology = actFrom27007(out.act);
  }
  return out;
}

/** The first registration line of an AT+CREG?/+CGREG?/+CEREG? answer, read as solicited. */
export function parseRegistrationAnswer(lines: readonly string[]): Parsed<Registration> {
  for (const raw of contentLines(lines)) {
    if (REG_PREFIX.test(raw)) return parseRegistration(raw, 'solicited');
  }
  return fail('no registration line in the answer');
}

export interface Csq {
  /** 0–31, 99 unknown (27.007 §8.5). */
  rssi: number;
  /** 0–7, 99 unknown. */
  ber: number;
  /** 2·rssi − 113 dBm (0 = −113 or less, 31 = −51 or more); undefined when unknown. */
  rssiDbm?: number;
}

/** AT+CSQ: `+CSQ: 17,99` (MM gsm-port.conf, §1.5). Values 32–98 and 100+ give no dBm. */
export function parseCsq(lines: readonly string[]): Parsed<Csq> {
  for (const raw of contentLines(lines)) {
    const rest = afterPrefix(raw, '+CSQ');
    if (rest === undefined) continue;
    const f = splitParams(rest);
    const rssi = toInt(f[0]?.text);
    const ber = toInt(f[1]?.text);
    if (rssi === undefined || ber === undefined) return fail(`+CSQ is not two numbers: ${raw}`);
    const out: Csq = { rssi, ber };
    if (rssi >= 0 && rssi <= 31) out.rssiDbm = 2 * rssi - 113;
    return out;
  }
  return fail('no +CSQ line in the answer');
}

export interface Cesq {
  raw: [number, number, number, number, number, number];
  rxlevDbm?: number;
  ber?: number;
  rscpDbm?: number;
  ecn0Db?: number;
  rsrqDb?: number;
  rsrpDbm?: number;
}

/**
 * AT+CESQ: `<rxlev>,<ber>,<rscp>,<ecn0>,<rsrq>,<rsrp>`, 99/255 = not known. Conversions are the
 * ones MM's expected values imply (§1.5): rxlev−111, rscp−121, ecn0/2−24.5, rsrq/2−20, rsrp−141.
 */
export function parseCesq(lines: readonly string[]): Parsed<Cesq> {
  for (const line of contentLines(lines)) {
    const rest = afterPrefix(line, '+CESQ');
    if (rest === undefined) continue;
    const v = splitParams(rest).map((x) => toInt(x.text));
    if (v.length !== 6 || v.some((x) => x === undefined)) return fail(`+CESQ is not six numbers: ${line}`);
    const [rxlev, ber, rscp, ecn0, rsrq, rsrp] = v as [number, number, number, number, number, number];
    const out: Cesq = { raw: [rxlev, ber, rscp, ecn0, rsrq, rsrp] };
    if (rxlev <= 63) out.rxlevDbm = rxlev - 111;
    if (ber <= 7) out.ber = ber;
    if (rscp <= 96) out.rscpDbm = rscp - 121;
    if (ecn0 <= 49) out.ecn0Db = ecn0 / 2 - 24.5;
    if (rsrq <= 34) out.rsrqDb = rsrq / 2 - 20;
    if (rsrp <= 97) out.rsrpDbm = rsrp - 141;
    return out;
  }
  return fail('no +CESQ line in the answer');
}
