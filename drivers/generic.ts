/**
 * The generic 3GPP TS 27.007 driver, and the standard reads every driver shares: identity
 * (+CGMI/+CGMM/+CGMR/ATI), IMEI, SIM state, IMSI, ICCID (+CCID, then READ BINARY of EF_ICCID
 * through +CRSM), own number, operator, registration, signal, and the serving cell from
 * +CREG/+CEREG's LAC/TAC and cell id (at-commands.md §1.3–§1.7).
 *
 *   init:       ATE0, AT+CMEE=1                     (MM's init subset, §1.1; nothing saved)
 *   readIccid:  AT+CCID ─ERROR─► AT+CRSM=176,12258,0,0,10
 *   readCells:  AT+COPS? (numeric format for MCC/MNC, restored) ─► AT+CEREG? / AT+CREG? / AT+CGREG?
 *               (<n> raised to 2 for LAC and cell id when it was lower, then restored)
 *
 * A command the module rejects (ERROR, +CME ERROR) is an answer, not a failure: the read
 * returns `{ error }` or undefined and the caller goes on. Timeouts and a closed port are
 * thrown by the channel and not caught here.
 */
import type { AtCommandOptions, AtResponse, AtRunner } from '../src/at/types.js';
import {
  fail, iccidFromCrsm, parseAti, parseCesq, parseCimi, parseCnum, parseCopsRead, parseCpin, parseCsq,
  parseIccid, parseIdentityValue, parseImei, parseRegistrationAnswer,
  type Cesq, type Csq, type CurrentOperator, type ImeiReading, type OwnNumber, type Parsed, type ParseError,
  type Registration, type SimStateReading, type TeCharset,
} from '../src/at/parsers.js';
import type { CellInfo, DriverId, ModemDriver, ModuleIdentity } from './types.js';

/** The module accepted the command (a custom final counts: Wavecom's +CPIN without OK). */
export function succeeded(r: AtResponse): boolean {
  return r.final === 'OK' || r.final === 'CUSTOM';
}

/** The answer's lines, plus the final line when a custom final ended it (it carries the value). */
export function answerLines(r: AtResponse): string[] {
  return r.final === 'CUSTOM' && r.finalLine && !r.lines.includes(r.finalLine) ? [...r.lines, r.finalLine] : r.lines;
}

/** Why a command gave nothing: its final line, for the survey's error list. */
export function rejected(r: AtResponse): ParseError {
  return fail(`${r.command}: ${r.finalLine || r.final}`);
}

/** Send, then parse the lines when the module said OK. */
export async function query<T>(at: AtRunner, command: string, parse: (lines: string[]) => Parsed<T>, opts?: AtCommandOptions): Promise<Parsed<T>> {
  const r = await at.send(command, opts);
  return succeeded(r) ? parse(answerLines(r)) : rejected(r);
}

/** +CGMI, +CGMM, +CGMR and ATI; whatever answers. What drivers' matches() look at. */
export async function readModuleIdentity(at: AtRunner): Promise<ModuleIdentity> {
  const id: ModuleIdentity = {};
  const manufacturer = await query(at, 'AT+CGMI', parseIdentityValue);
  if (typeof manufacturer === 'string') id.manufacturer = manufacturer;
  const model = await query(at, 'AT+CGMM', parseIdentityValue);
  if (typeof model === 'string') id.model = model;
  const revision = await query(at, 'AT+CGMR', parseIdentityValue);
  if (typeof revision === 'string') id.revision = revision;
  const ati = await query(at, 'ATI', parseAti);
  if (!('error' in ati)) {
    id.ati = ati.text;
    id.manufacturer ??= ati.manufacturer;
    id.model ??= ati.model;
    id.revision ??= ati.revision;
    for (const k of ['manufacturer', 'model', 'revision'] as const) if (id[k] === undefined) delete id[k];
  }
  return id;
}

/** AT+CGSN, then AT+GSN: reads only; AT+CGSN=… is refused by the policy (§5). */
export async function readImei(at: AtRunner): Promise<Parsed<ImeiReading>> {
  const r = await query(at, 'AT+CGSN', parseImei);
  return 'error' in r ? query(at, 'AT+GSN', parseImei) : r;
}

/** AT+CPIN?; a SIM that is missing answers +CME ERROR: 10, which is a state, not a failure. */
export async function readSimState(at: AtRunner, driver?: Pick<ModemDriver, 'commandOptions'>): Promise<Parsed<SimStateReading>> {
  const r = await at.send('AT+CPIN?', driver?.commandOptions?.('AT+CPIN?'));
  if (succeeded(r)) return parseCpin(answerLines(r));
  return r.errorCode !== undefined ? parseCpin([], r.errorCode) : rejected(r);
}

export function readImsi(at: AtRunner): Promise<Parsed<string>> {
  return query(at, 'AT+CIMI', parseCimi);
}

export function readOwnNumbers(at: AtRunner, charset?: TeCharset): Promise<Parsed<OwnNumber[]>> {
  return query(at, 'AT+CNUM', (l) => parseCnum(l, charset));
}

export function readOperator(at: AtRunner, charset?: TeCharset): Promise<Parsed<CurrentOperator>> {
  return query(at, 'AT+COPS?', (l) => parseCopsRead(l, charset));
}

export async function readSignal(at: AtRunner): Promise<{ csq: Parsed<Csq>; cesq: Parsed<Cesq> }> {
  return { csq: await query(at, 'AT+CSQ', parseCsq), cesq: await query(at, 'AT+CESQ', parseCesq) };
}

/**
 * ICCID by the dialect's own commands first (each answer parsed by parseIccid), then by
 * READ BINARY of EF_ICCID (MM's generic path, §1.7). Undefined when nothing gave one.
 */
export async function readIccidVia(at: AtRunner, commands: readonly string[]): Promise<string | undefined> {
  for (const command of commands) {
    const r = await query(at, command, parseIccid);
    if (typeof r === 'string') return r;
  }
  const crsm = await query(at, 'AT+CRSM=176,12258,0,0,10', iccidFromCrsm);
  return typeof crsm === 'string' ? crsm : undefined;
}

/** MCC and MNC of the registered network, read in numeric format; the format found is put back. */
export async function readPlmn(at: AtRunner): Promise<{ mcc?: string; mnc?: string; op?: CurrentOperator }> {
  const first = await readOperator(at);
  if ('error' in first) return {};
  if (first.mcc) return { mcc: first.mcc, mnc: first.mnc, op: first };
  if (!first.operator || first.format === undefined) return { op: first };
  // +COPS=3,<format> changes only how +COPS? reports the operator (27.007 §7.3), not the registration.
  if (!succeeded(await at.send('AT+COPS=3,2'))) return { op: first };
  const numeric = await readOperator(at);
  await at.send(`AT+COPS=3,${first.format}`);
  if ('error' in numeric) return { op: first };
  const op: CurrentOperator = { ...first };
  if (numeric.act !== undefined) Object.assign(op, { act: numeric.act, accessTechnology: numeric.accessTechnology });
  return { mcc: numeric.mcc, mnc: numeric.mnc, op };
}

/**
 * AT+<cmd>? read as solicited. When <n> is below 2 the answer has no LAC/cell id, so <n> is
 * raised to 2 for one read and put back (a RAM setting; it also turns on location URCs briefly).
 */
export async function readRegistration(at: AtRunner, cmd: 'CREG' | 'CGREG' | 'CEREG'): Promise<Parsed<Registration>> {
  const first = await query(at, `AT+${cmd}?`, parseRegistrationAnswer);
  if ('error' in first || first.ci !== undefined || first.n === undefined || first.n >= 2 || !first.registered) return first;
  if (!succeeded(await at.send(`AT+${cmd}=2`))) return first;
  const located = await query(at, `AT+${cmd}?`, parseRegistrationAnswer);
  await at.send(`AT+${cmd}=${first.n}`);
  return 'error' in located ? first : located;
}

/** The serving cell as +CEREG (LTE), else +CREG, else +CGREG states it, with MCC/MNC from +COPS. */
export async function readServingCell(at: AtRunner): Promise<CellInfo | undefined> {
  const plmn = await readPlmn(at);
  for (const cmd of ['CEREG', 'CREG', 'CGREG'] as const) {
    const reg = await readRegistration(at, cmd);
    if ('error' in reg || !reg.registered || reg.ci === undefined) continue;
    const cell: CellInfo = { role: 'serving', cellId: reg.ci, raw: reg.raw };
    const act = reg.accessTechnology ?? plmn.op?.accessTechnology ?? (cmd === 'CEREG' ? 'LTE' : undefined);
    if (act) cell.act = act;
    if (plmn.mcc) cell.mcc = plmn.mcc;
    if (plmn.mnc) cell.mnc = plmn.mnc;
    if (reg.lac) cell.lac = reg.lac;
    if (reg.tac) cell.tac = reg.tac;
    return cell;
  }
  return undefined;
}

/** GSM RxLev 0–63 as dBm (rxlev − 111, as for +CESQ, §1.5); a negative value is already dBm (Quectel, §2.1). */
export function rxlevDbm(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v < 0) return v >= -150 ? v : undefined;
  return v <= 63 ? v - 111 : undefined;
}

/** MCC is three decimal digits and not 000; MNC two or three ("set to 0 when no service", §2.3). */
export function plmnPart(s: string | undefined, kind: 'mcc' | 'mnc'): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (kind === 'mcc') return /^\d{3}$/.test(t) && t !== '000' ? t : undefined;
  return /^\d{2,3}$/.test(t) ? t : undefined;
}

/** LAC/cell id placeholders: all zeros or all F (`0000`, `ffff`, SIM808/SIM900 fixtures, §2.2). */
export function realHexId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim().replace(/^0x/i, '');
  if (!/^[0-9A-Fa-f]{1,16}$/.test(t) || /^0+$/.test(t) || /^f+$/i.test(t)) return undefined;
  return t.toUpperCase();
}

export class GenericDriver implements ModemDriver {
  readonly id: DriverId = 'generic';
  readonly name: string = '3GPP TS 27.007 (generic)';

  matches(_identity: ModuleIdentity): boolean {
    return true;
  }

  /** Echo off and numeric CME errors: RAM settings, as MM's init sequence (§1.1). */
  async init(at: AtRunner): Promise<void> {
    await at.send('ATE0');
    await at.send('AT+CMEE=1');
  }

  readIccid(at: AtRunner): Promise<string | undefined> {
    return readIccidVia(at, ['AT+CCID']);
  }

  async readCells(at: AtRunner): Promise<CellInfo[]> {
    const cell = await readServingCell(at);
    return cell ? [cell] : [];
  }
}
