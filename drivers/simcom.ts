/**
 * SIMCom: AT+CENG on the 2G MediaTek family (SIM800/SIM808/SIM900), AT+CPSI? on SIM5xxx/SIM7xxx,
 * and AT+CCID / AT+CICCID for the ICCID (at-commands.md §2.2, §1.7).
 *
 *   2G:      AT+CENG?  (mode found)  ─► AT+CENG=3 (ERROR ─► AT+CENG=1,1)  ─► AT+CENG?
 *            ─► mode put back (AT+CENG=0 when it was off): engineering mode is a RAM setting
 *   3G/4G:   AT+CPSI?  (retried once: the first one after opening a SIM7600 port can be ERROR, §2.2)
 *
 * +CENG field order differs between manual revisions (§2.2): lines are read by field count, as
 * SITCH does (12 serving, 8 or 7 neighbour fields), with the SIM800 V1.09 order.
 * +CPSI levels come in tenths of dB on most firmware, plain dB on CAT-M and raw 3GPP indices on
 * others: each is range-checked and normalised (§2.2).
 */
import type { AtRunner } from '../src/at/types.js';
import { afterPrefix, contentLines, fail, splitParams, toInt, toNumber, type Parsed } from '../src/at/parsers.js';
import { GenericDriver, answerLines, plmnPart, readIccidVia, realHexId, rxlevDbm, succeeded } from './generic.js';
import type { CellInfo, DriverId, ModuleIdentity } from './types.js';

export type SimcomFamily = 'ceng' | 'cpsi';

export function simcomFamily(identity: ModuleIdentity): SimcomFamily | undefined {
  const text = [identity.model, identity.revision, identity.ati].filter(Boolean).join(' ');
  if (/SIM(5\d{3}|7\d{3}|8[2-9]\d{2})/i.test(text)) return 'cpsi';
  if (/SIM(300|340|800|808|868|900|908)/i.test(text)) return 'ceng';
  return undefined;
}

function put<K extends keyof CellInfo>(cell: CellInfo, key: K, v: CellInfo[K] | undefined): void {
  if (v !== undefined) cell[key] = v;
}

/** BSIC is 0–63; SIM900 fixtures show 156 and 127, which are garbage (§2.2). */
function bsic(s: string | undefined): number | undefined {
  const v = toInt(s);
  return v !== undefined && v >= 0 && v <= 63 ? v : undefined;
}

/**
 * One +CENG line. Quoted forms (modes 1/2): serving `0,"arfcn,rxl,rxq,mcc,mnc,bsic,cellid,rla,
 * txp,lac,ta[,…]"`, neighbours `n,"arfcn,rxl,bsic,cellid,mcc,mnc,lac"` or without cellid
 * (SIM808). Mode 3 (SIM800 manual V1.09 p.161; no capture in the reference): unquoted
 * `cell,mcc,mnc,lac,cellid,bsic,rxl`. The `<mode>,<Ncell>` line gives `mode`.
 */
export function parseCengLine(line: string): Parsed<{ mode: [number, number] } | { cell: CellInfo }> {
  const rest = afterPrefix(line, '+CENG');
  if (rest === undefined) return fail('not a +CENG line');
  const f = splitParams(rest);
  const raw = line.trim();
  if (f.length === 2 && !f[1]!.quoted) {
    const mode = toInt(f[0]!.text);
    const ncell = toInt(f[1]!.text);
    if (mode === undefined || ncell === undefined) return fail(`+CENG mode line is not two numbers: ${raw}`);
    return { mode: [mode, ncell] };
  }
  const index = toInt(f[0]?.text);
  if (index === undefined) return fail(`+CENG without a cell index: ${raw}`);
  const cell: CellInfo = { role: index === 0 ? 'serving' : 'neighbour', act: 'GSM', raw };
  if (f.length === 2) {
    const p = f[1]!.text.split(',').map((x) => x.trim());
    let order: Array<keyof typeof FIELD | undefined>;
    if (p.length >= 11) order = ['arfcn', 'rxl', undefined, 'mcc', 'mnc', 'bsic', 'cellid', undefined, undefined, 'lac'];
    else if (p.length === 7) order = ['arfcn', 'rxl', 'bsic', 'cellid', 'mcc', 'mnc', 'lac'];
    else if (p.length === 6) order = ['arfcn', 'rxl', 'bsic', 'mcc', 'mnc', 'lac'];
    else return fail(`+CENG cell with ${p.length} fields matches no known layout: ${raw}`);
    order.forEach((k, i) => k && FIELD[k](cell, p[i]));
    return { cell };
  }
  if (f.length === 7) {
    const p = f.slice(1).map((x) => x.text);
    (['mcc', 'mnc', 'lac', 'cellid', 'bsic', 'rxl'] as const).forEach((k, i) => FIELD[k](cell, p[i]));
    return { cell };
  }
  return fail(`+CENG line matches no known layout: ${raw}`);
}

const FIELD = {
  arfcn: (c: CellInfo, s: string | undefined) => put(c, 'arfcn', toInt(s)),
  rxl: (c: CellInfo, s: string | undefined) => put(c, 'rxlevDbm', rxlevDbm(toInt(s))),
  mcc: (c: CellInfo, s: string | undefined) => put(c, 'mcc', plmnPart(s, 'mcc')),
  mnc: (c: CellInfo, s: string | undefined) => put(c, 'mnc', plmnPart(s, 'mnc')),
  bsic: (c: CellInfo, s: string | undefined) => put(c, 'bsic', bsic(s)),
  cellid: (c: CellInfo, s: string | undefined) => put(c, 'cellId', realHexId(s)),
  lac: (c: CellInfo, s: string | undefined) => put(c, 'lac', realHexId(s)),
};

/** Every cell of an AT+CENG? answer, and the mode line it began with. */
export function parseCeng(lines: readonly string[]): { mode?: [number, number]; cells: CellInfo[]; malformed: string[] } {
  const out: { mode?: [number, number]; cells: CellInfo[]; malformed: string[] } = { cells: [], malformed: [] };
  for (const line of contentLines(lines)) {
    const r = parseCengLine(line);
    if ('error' in r) out.malformed.push(r.error);
    else if ('mode' in r) out.mode = r.mode;
    else out.cells.push(r.cell);
  }
  return out;
}

/** RSRP: tenths (-1089), dBm (-116) or a 3GPP index 0–97 (oFono's 67), §2.2. */
function rsrp(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v <= -200) return v / 10;
  if (v < 0) return v >= -150 ? v : undefined;
  return v <= 97 ? v - 141 : undefined;
}

/** RSRQ: tenths (-178), dB (-20) or a 3GPP index 0–34 (oFono's 21), §2.2. */
function rsrq(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v < -34) return v >= -400 ? v / 10 : undefined;
  if (v < 0) return v;
  return v <= 34 ? v / 2 - 20 : undefined;
}

/**
 * `+CPSI: <mode>,<op mode>[,<MCC>-<MNC>,<LAC|TAC>,<cell id>,…]` (SIM7600 and OVMS/ArduPilot
 * captures, §2.2). Cell ids are decimal there and become hex here, as every other dialect
 * reports them; the raw line keeps the original. `NO SERVICE` gives null.
 */
export function parseCpsi(line: string): Parsed<CellInfo | null> {
  const rest = afterPrefix(line, '+CPSI');
  if (rest === undefined) return fail('not a +CPSI line');
  const f = splitParams(rest).map((x) => x.text);
  const mode = (f[0] ?? '').toUpperCase();
  if (mode === 'NO SERVICE' || f.length < 5) return mode ? null : fail(`+CPSI without a system mode: ${line.trim()}`);
  const cell: CellInfo = { role: 'serving', raw: line.trim() };
  const plmn = /^(\d{3})-(\d{2,3})$/.exec(f[2] ?? '');
  if (plmn) {
    put(cell, 'mcc', plmnPart(plmn[1], 'mcc'));
    put(cell, 'mnc', plmn[2]);
  }
  const ci = toInt(f[4]);
  if (ci !== undefined && ci > 0) cell.cellId = ci.toString(16).toUpperCase();
  if (mode.startsWith('LTE')) {
    cell.act = 'LTE';
    put(cell, 'tac', realHexId(f[3]));
    put(cell, 'pci', toInt(f[5]));
    put(cell, 'arfcn', toInt(f[7]));
    put(cell, 'rsrqDb', rsrq(toInt(f[10])));
    put(cell, 'rsrpDbm', rsrp(toInt(f[11])));
  } else if (mode === 'GSM') {
    cell.act = 'GSM';
    put(cell, 'lac', realHexId(f[3]));
    // `4 EGSM 900`: the ARFCN, then the band name (OVMS capture).
    put(cell, 'arfcn', toInt(/^(\d+)/.exec(f[5] ?? '')?.[1]));
    put(cell, 'rxlevDbm', rxlevDbm(toInt(f[6])));
  } else if (mode === 'WCDMA') {
    cell.act = 'UMTS';
    put(cell, 'lac', realHexId(f[3]));
    put(cell, 'psc', toInt(f[6]));
    put(cell, 'arfcn', toInt(f[7]));
    const rscp = toNumber(f[10]);
    if (rscp !== undefined && rscp < 0 && rscp >= -130) cell.rscpDbm = rscp;
  } else {
    cell.act = 'unknown';
  }
  return cell;
}

export class SimcomDriver extends GenericDriver {
  override readonly id: DriverId = 'simcom';
  override readonly name: string = 'SIMCom (AT+CENG, AT+CPSI?, AT+CCID/AT+CICCID)';
  private readonly learnt = new Map<string, SimcomFamily>();

  constructor(private readonly identity?: ModuleIdentity) {
    super();
  }

  /** `SIMCOM_Ltd`, `SIMCOM INCORPORATED`, or a bare `SIM800 R14.18` ATI banner (§2.2, §5). */
  override matches(identity: ModuleIdentity): boolean {
    const text = [identity.manufacturer, identity.model, identity.revision, identity.ati].join(' ');
    return /sim\s?com/i.test(text) || /(^|\s|_)SIM\d{3,4}/i.test(text);
  }

  override readIccid(at: AtRunner): Promise<string | undefined> {
    return readIccidVia(at, ['AT+CCID', 'AT+CICCID']);
  }

  override async readCells(at: AtRunner): Promise<CellInfo[]> {
    const family = (this.identity && simcomFamily(this.identity)) ?? this.learnt.get(at.port);
    if (family !== 'ceng') {
      const cells = await this.readCpsi(at, family === 'cpsi' ? 2 : 1);
      if (cells) {
        this.learnt.set(at.port, 'cpsi');
        return cells;
      }
      if (family === 'cpsi') return [];
    }
    const cells = await this.readCeng(at);
    if (cells) {
      this.learnt.set(at.port, 'ceng');
      return cells;
    }
    // No +CENG either: a SIM7600 whose first +CPSI? failed ("enter twice", §2.2) gets its second try.
    return family === undefined ? (await this.readCpsi(at, 1)) ?? [] : [];
  }

  private async readCpsi(at: AtRunner, tries: number): Promise<CellInfo[] | undefined> {
    for (let i = 0; i < tries; i++) {
      const r = await at.send('AT+CPSI?');
      if (!succeeded(r)) continue;
      const cells: CellInfo[] = [];
      for (const line of answerLines(r)) {
        const c = parseCpsi(line);
        if (c && !('error' in c)) cells.push(c);
      }
      return cells;
    }
    return undefined;
  }

  /** Undefined when the module has no +CENG at all (then it is not of that family). */
  private async readCeng(at: AtRunner): Promise<CellInfo[] | undefined> {
    const before = await at.send('AT+CENG?');
    if (!succeeded(before)) return undefined;
    const found = parseCeng(answerLines(before)).mode;
    if (!succeeded(await at.send('AT+CENG=3')) && !succeeded(await at.send('AT+CENG=1,1'))) return [];
    const r = await at.send('AT+CENG?');
    await at.send(found && found[0] !== 0 ? `AT+CENG=${found[0]},${found[1]}` : 'AT+CENG=0');
    return succeeded(r) ? parseCeng(answerLines(r)).cells : [];
  }
}
