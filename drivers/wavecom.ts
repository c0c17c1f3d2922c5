/**
 * Wavecom Q24xx / Fastrack (at-commands.md §2.3): 9600 baud, `AT+CPIN?` answered by
 * `+CPIN: READY` with no OK (MM's Wavecom plugin; Gammu F_CPIN_NO_OK), cells by `AT+CCED`.
 *
 *   AT+CCED=0,1   one shot, main cell:   MCC,MNC,LAC,CI,BSIC,BCCH,RxLev,RxLevFull,RxLevSub,
 *                                        RxQual,RxQualFull,RxQualSub,IdleTS   (12 when CI is missing)
 *   AT+CCED=0,2   one shot, neighbours:  (MCC,MNC,LAC,CI,BSIC,BCCH,RxLev) × up to 6
 *
 * Mode 0 is a one-shot request: nothing to switch back (mode 1 would start 5-second URCs).
 * LAC and CI are hex, the rest decimal; an unmeasured field is empty (`,,`); MCC/MNC are 0
 * with no service (Westermo GD-01, Multi-Tech S000293I, §2.3).
 */
import type { AtCommandOptions, AtRunner } from '../src/at/types.js';
import { afterPrefix, contentLines, fail, splitParams, toInt, type Parsed } from '../src/at/parsers.js';
import { GenericDriver, answerLines, plmnPart, readIccidVia, realHexId, rxlevDbm, succeeded } from './generic.js';
import type { CellInfo, DriverId, ModuleIdentity } from './types.js';

/** CCED <requested dump> bits. */
export const CCED_MAIN = 1;
export const CCED_NEIGHBOURS = 2;
export const CCED_MAIN_TA = 4;

function cellFrom(p: string[], role: CellInfo['role'], withCi: boolean, raw: string): CellInfo {
  const cell: CellInfo = { role, act: 'GSM', raw };
  const q = withCi ? p : [p[0]!, p[1]!, p[2]!, '', ...p.slice(3)];
  const mcc = plmnPart(q[0], 'mcc');
  const mnc = plmnPart(q[1], 'mnc');
  if (mcc) cell.mcc = mcc;
  if (mcc && mnc) cell.mnc = mnc;
  const lac = realHexId(q[2]);
  if (lac) cell.lac = lac;
  const ci = realHexId(q[3]);
  if (ci) cell.cellId = ci;
  const bsic = toInt(q[4]);
  if (bsic !== undefined && bsic <= 63) cell.bsic = bsic;
  const arfcn = toInt(q[5]);
  if (arfcn !== undefined) cell.arfcn = arfcn;
  const rx = rxlevDbm(toInt(q[6]));
  if (rx !== undefined) cell.rxlevDbm = rx;
  return cell;
}

/** Does a field look like the start of a cell dump (an MCC of three digits, or 0 with no service)? */
function mccLike(s: string | undefined): boolean {
  return s !== undefined && /^(\d{3}|0)$/.test(s);
}

/**
 * One `+CCED:` line for the dump bits requested. With the main cell and neighbours in one line
 * (the default dump, Multi-Tech example) the main cell is 13 fields, or 12 when CI is missing;
 * the length that leaves whole 7-field neighbour dumps (plus the TA field) wins.
 */
export function parseCced(line: string, dump: number): Parsed<CellInfo[]> {
  const rest = afterPrefix(line, '+CCED');
  if (rest === undefined) return fail('not a +CCED line');
  const p = splitParams(rest).map((x) => x.text);
  const raw = line.trim();
  const cells: CellInfo[] = [];
  let i = 0;
  const ta = dump & CCED_MAIN_TA ? 1 : 0;
  if (dump & CCED_MAIN) {
    if (!mccLike(p[0])) return fail(`+CCED main cell does not start with an MCC: ${raw}`);
    const fits = (len: number): boolean => {
      const left = p.length - len - ta;
      return dump & CCED_NEIGHBOURS ? left >= 0 && left % 7 === 0 : left === 0 || left === ta;
    };
    const len = fits(13) ? 13 : fits(12) ? 12 : p.length >= 13 ? 13 : 12;
    if (p.length < len) return fail(`+CCED main cell has ${p.length} fields, not ${len}: ${raw}`);
    cells.push(cellFrom(p.slice(0, len), 'serving', len === 13, raw));
    i = len;
  }
  if (dump & CCED_NEIGHBOURS) {
    while (i + 7 <= p.length && mccLike(p[i])) {
      const n = p.slice(i, i + 7);
      // An all-empty or all-zero dump is a neighbour slot the module did not fill.
      if (n.some((x) => x !== '' && x !== '0')) cells.push(cellFrom(n, 'neighbour', true, raw));
      i += 7;
    }
  }
  return cells;
}

export class WavecomDriver extends GenericDriver {
  override readonly id: DriverId = 'wavecom';
  override readonly name: string = 'Wavecom (AT+CCED, +CPIN without OK)';
  readonly baudRate = 9600;

  /** `WAVECOM MODEM`, model `MULTIBAND  900E  1800`, firmware `…Q2403A…` (Gammu, §2.3, §5). */
  override matches(identity: ModuleIdentity): boolean {
    const text = [identity.manufacturer, identity.model, identity.revision, identity.ati].join(' ');
    return /wavecom/i.test(text) || /MULTIBAND\s+900E\s+1800/i.test(text) || /\bQ24\d\d/i.test(text);
  }

  /** The answer to AT+CPIN? is its own final: MM's custom success regex `\r\n\+CPIN: .*\r\n` (§2.3). */
  commandOptions(command: string): AtCommandOptions | undefined {
    return /^AT\+CPIN\?$/i.test(command.trim()) ? { customFinal: /^\+CPIN: / } : undefined;
  }

  override readIccid(at: AtRunner): Promise<string | undefined> {
    return readIccidVia(at, ['AT+CCID']);
  }

  override async readCells(at: AtRunner): Promise<CellInfo[]> {
    const cells: CellInfo[] = [];
    for (const dump of [CCED_MAIN, CCED_NEIGHBOURS]) {
      const r = await at.send(`AT+CCED=0,${dump}`);
      if (!succeeded(r)) continue;
      for (const line of contentLines(answerLines(r))) {
        const c = parseCced(line, dump);
        if (!('error' in c)) cells.push(...c);
      }
    }
    return cells;
  }
}
