/**
 * Quectel: two cell-information dialects and +QCCID (at-commands.md §2.1, §1.7).
 *
 *   UMTS/LTE (UC15, UC20, EC2x, EG2x, BG9x)   AT+QENG="servingcell"   one line, layout per RAT
 *                                             AT+QENG="neighbourcell" layout per serving RAT
 *   2G (M35, M26, M10, M95, M66)              AT+QENG?  (mode found) ─► AT+QENG=1,1 ─► AT+QENG?
 *                                             ─► mode put back (engineering mode is a RAM setting)
 *
 * The family comes from the model when the driver was built for a module; without one the
 * driver asks for "servingcell" and falls back to the 2G form on ERROR, remembering per port.
 * "-" and the sentinels -32768 and -1920 mean "not available" (§2.1).
 */
import type { AtRunner } from '../src/at/types.js';
import {
  afterPrefix, contentLines, fail, splitParams, toInt, toNumber, type Parsed,
} from '../src/at/parsers.js';
import { GenericDriver, answerLines, plmnPart, readIccidVia, realHexId, rxlevDbm, succeeded } from './generic.js';
import type { AccessTechnology, CellInfo, DriverId, ModuleIdentity } from './types.js';

export type QuectelFamily = 'umts-lte' | '2g';

/** Model names of the 2G family, whose +QENG takes numbers, not "servingcell". */
const QUECTEL_2G = /\b(M10|M12|M26|M35|M56|M66|M72|M85|M95|MC20|MC60|M35FA|UG95)\b/i;
const QUECTEL_3G4G = /\b(UC15|UC20|EC2\d|EG2\d|EG9\d|EC200\w*|BG9\d|BG77|EM0\d|EM12|EM20|RG50\d)\b/i;

export function quectelFamily(identity: ModuleIdentity): QuectelFamily | undefined {
  const text = [identity.model, identity.revision, identity.ati].filter(Boolean).join(' ').replace(/Quectel[_ ]/gi, ' ');
  if (QUECTEL_3G4G.test(text)) return 'umts-lte';
  if (QUECTEL_2G.test(text)) return '2g';
  return undefined;
}

/** A numeric field: "-" or a sentinel (-32768, -1920, §2.1) gives undefined. */
function value(s: string | undefined): number | undefined {
  const v = toNumber(s);
  return v === undefined || v === -32768 || v === -1920 ? undefined : v;
}

/** A level in dBm within a plausible range; WCDMA neighbours report dBm×10 (§2.1). */
function level(s: string | undefined, lo: number, hi = 0): number | undefined {
  let v = value(s);
  if (v !== undefined && v < lo * 2) v /= 10;
  return v !== undefined && v >= lo && v <= hi ? v : undefined;
}

function set<K extends keyof CellInfo>(cell: CellInfo, key: K, v: CellInfo[K] | undefined): void {
  if (v !== undefined) cell[key] = v;
}

/**
 * `+QENG: "servingcell",<state>,<RAT>,…` (EC2x manual §6.17, EG25 capture, §2.1). Returns null
 * for `"SEARCH"` (no cell yet). LTE/CAT-M carry `"FDD"`/`"TDD"` right after the RAT.
 */
export function parseQengServing(line: string): Parsed<CellInfo | null> {
  const rest = afterPrefix(line, '+QENG');
  if (rest === undefined) return fail('not a +QENG line');
  const f = splitParams(rest).map((x) => x.text);
  if (!/^servings?cell$/i.test(f[0] ?? '')) return fail('not a servingcell line');
  const rat = (f[2] ?? '').toUpperCase();
  if (!rat) return null;
  const cell: CellInfo = { role: 'serving', raw: line.trim() };
  if (rat === 'GSM') {
    cell.act = 'GSM';
    set(cell, 'mcc', plmnPart(f[3], 'mcc'));
    set(cell, 'mnc', plmnPart(f[4], 'mnc'));
    set(cell, 'lac', realHexId(f[5]));
    set(cell, 'cellId', realHexId(f[6]));
    set(cell, 'bsic', value(f[7]));
    set(cell, 'arfcn', value(f[8]));
    // <rxlev> is 0–63 in the table but dBm in the manual's own examples (-67): both are accepted.
    set(cell, 'rxlevDbm', rxlevDbm(value(f[10])));
  } else if (rat === 'WCDMA' || rat === 'TDSCDMA') {
    cell.act = 'UMTS';
    set(cell, 'mcc', plmnPart(f[3], 'mcc'));
    set(cell, 'mnc', plmnPart(f[4], 'mnc'));
    set(cell, 'lac', realHexId(f[5]));
    set(cell, 'cellId', realHexId(f[6]));
    set(cell, 'arfcn', value(f[7]));
    if (rat === 'WCDMA') {
      set(cell, 'psc', value(f[8]));
      set(cell, 'rscpDbm', level(f[10], -130));
    }
  } else if (rat === 'LTE' || rat.startsWith('CAT-')) {
    cell.act = 'LTE';
    set(cell, 'mcc', plmnPart(f[4], 'mcc'));
    set(cell, 'mnc', plmnPart(f[5], 'mnc'));
    set(cell, 'cellId', realHexId(f[6]));
    set(cell, 'pci', value(f[7]));
    set(cell, 'arfcn', value(f[8]));
    set(cell, 'tac', realHexId(f[12]));
    set(cell, 'rsrpDbm', level(f[13], -150));
    set(cell, 'rsrqDb', level(f[14], -30));
  } else {
    return fail(`servingcell RAT '${f[2]}' is not one this parser knows`);
  }
  return cell;
}

/**
 * `+QENG: "neighbourcell[ intra| inter]",<RAT>,…`: the layout depends on the serving RAT
 * (§2.1). LTE intra/inter give rsrq before rsrp; the plain LTE form gives rsrp first.
 */
export function parseQengNeighbour(line: string, serving: AccessTechnology = 'LTE'): Parsed<CellInfo> {
  const rest = afterPrefix(line, '+QENG');
  if (rest === undefined) return fail('not a +QENG line');
  const f = splitParams(rest).map((x) => x.text);
  const kind = (f[0] ?? '').toLowerCase();
  if (!kind.startsWith('neighbourcell')) return fail('not a neighbourcell line');
  const rat = (f[1] ?? '').toUpperCase();
  const cell: CellInfo = { role: 'neighbour', raw: line.trim() };
  const servingGsm = serving === 'GSM' || serving === 'GPRS' || serving === 'EDGE';
  const servingUmts = serving === 'UMTS' || serving === 'HSPA';
  if (rat === 'LTE') {
    cell.act = 'LTE';
    set(cell, 'arfcn', value(f[2]));
    set(cell, 'pci', value(f[3]));
    const [rsrq, rsrp] = kind === 'neighbourcell' ? [f[5], f[4]] : [f[4], f[5]];
    set(cell, 'rsrqDb', level(rsrq, -30));
    set(cell, 'rsrpDbm', level(rsrp, -150));
  } else if (rat === 'WCDMA') {
    cell.act = 'UMTS';
    set(cell, 'arfcn', value(f[2]));
    const [psc, rscp] = servingGsm ? [f[3], f[4]] : servingUmts ? [f[4], f[5]] : [f[6], f[7]];
    set(cell, 'psc', value(psc));
    set(cell, 'rscpDbm', level(rscp, -130));
  } else if (rat === 'GSM') {
    cell.act = 'GSM';
    if (servingGsm) {
      set(cell, 'mcc', plmnPart(f[2], 'mcc'));
      set(cell, 'mnc', plmnPart(f[3], 'mnc'));
      set(cell, 'lac', realHexId(f[4]));
      set(cell, 'cellId', realHexId(f[5]));
      set(cell, 'bsic', value(f[6]));
      set(cell, 'arfcn', value(f[7]));
      set(cell, 'rxlevDbm', rxlevDbm(value(f[8])));
    } else if (servingUmts) {
      set(cell, 'bsic', value(f[2]));
      set(cell, 'rxlevDbm', rxlevDbm(value(f[4])));
    } else {
      set(cell, 'arfcn', value(f[2]));
      set(cell, 'bsic', value(f[8]));
      set(cell, 'rxlevDbm', level(f[9], -150));
    }
  } else {
    return fail(`neighbourcell RAT '${f[1]}' is not one this parser knows`);
  }
  return cell;
}

/**
 * The 2G family's `AT+QENG?` answer (M35 capture, §2.1): `+QENG: <mode>,<dump>`, then the
 * serving cell `+QENG: 0,mcc,mnc,lac,cellid,bcch,bsic,dbm,c1,c2,…` (`x` = not available), then
 * neighbour lines `+QENG: 1,…` whose field list is not verified (§8): kept with their raw line only.
 */
export function parseQeng2g(lines: readonly string[]): { mode?: [number, number]; cells: CellInfo[] } {
  const out: { mode?: [number, number]; cells: CellInfo[] } = { cells: [] };
  for (const line of contentLines(lines)) {
    const rest = afterPrefix(line, '+QENG');
    if (rest === undefined) continue;
    const f = splitParams(rest).map((x) => (x.text.toLowerCase() === 'x' ? '' : x.text));
    if (f.length === 2) {
      const mode = toInt(f[0]);
      const dump = toInt(f[1]);
      if (mode !== undefined && dump !== undefined) out.mode = [mode, dump];
    } else if (f[0] === '0' && f.length >= 8) {
      const cell: CellInfo = { role: 'serving', act: 'GSM', raw: line };
      set(cell, 'mcc', plmnPart(f[1], 'mcc'));
      set(cell, 'mnc', plmnPart(f[2], 'mnc'));
      set(cell, 'lac', realHexId(f[3]));
      set(cell, 'cellId', realHexId(f[4]));
      set(cell, 'arfcn', value(f[5]));
      set(cell, 'bsic', value(f[6]));
      set(cell, 'rxlevDbm', rxlevDbm(value(f[7])));
      out.cells.push(cell);
    } else if (f[0] === '1') {
      out.cells.push({ role: 'neighbour', act: 'GSM', raw: line });
    }
  }
  return out;
}

export class QuectelDriver extends GenericDriver {
  override readonly id: DriverId = 'quectel';
  override readonly name: string = 'Quectel (AT+QENG, AT+QCCID)';
  /** Family learnt per port when the model did not say. */
  private readonly learnt = new Map<string, QuectelFamily>();

  constructor(private readonly identity?: ModuleIdentity) {
    super();
  }

  override matches(identity: ModuleIdentity): boolean {
    return /quectel/i.test([identity.manufacturer, identity.model, identity.ati].join(' '));
  }

  override readIccid(at: AtRunner): Promise<string | undefined> {
    return readIccidVia(at, ['AT+QCCID', 'AT+CCID']);
  }

  override async readCells(at: AtRunner): Promise<CellInfo[]> {
    const family = (this.identity && quectelFamily(this.identity)) ?? this.learnt.get(at.port);
    if (family !== '2g') {
      const r = await at.send('AT+QENG="servingcell"');
      if (succeeded(r)) {
        this.learnt.set(at.port, 'umts-lte');
        return this.readUmtsLte(at, answerLines(r));
      }
      if (family === 'umts-lte') return [];
    }
    this.learnt.set(at.port, '2g');
    return this.read2g(at);
  }

  private async readUmtsLte(at: AtRunner, servingLines: string[]): Promise<CellInfo[]> {
    const cells: CellInfo[] = [];
    for (const line of servingLines) {
      const c = parseQengServing(line);
      if (c && !('error' in c)) cells.push(c);
    }
    const r = await at.send('AT+QENG="neighbourcell"');
    if (!succeeded(r)) return cells;
    const serving = cells[0]?.act ?? 'LTE';
    for (const line of answerLines(r)) {
      const c = parseQengNeighbour(line, serving);
      if (!('error' in c)) cells.push(c);
    }
    return cells;
  }

  /** Engineering mode on (with neighbours), read, then the mode found put back. */
  private async read2g(at: AtRunner): Promise<CellInfo[]> {
    const before = await at.send('AT+QENG?');
    const found = succeeded(before) ? parseQeng2g(answerLines(before)).mode : undefined;
    if (!succeeded(await at.send('AT+QENG=1,1'))) return [];
    const r = await at.send('AT+QENG?');
    await at.send(found ? `AT+QENG=${found[0]},${found[1]}` : 'AT+QENG=0');
    return succeeded(r) ? parseQeng2g(answerLines(r)).cells : [];
  }
}
