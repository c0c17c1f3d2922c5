/**
 * Huawei sticks (E173 and family; at-commands.md §2.4): URC noise, ^SYSINFO/^SYSINFOEX for the
 * access technology, ^HCSQ for levels, ^ICCID? for the ICCID.
 *
 *   init:      ATE0, AT+CMEE=1, AT^CURC? (the setting found goes into the transcript), AT^CURC=0
 *              (silences ^RSSI, ^MODE, ^DSFLOWRPT …: a RAM setting, as Gammu's F_HUAWEI_INIT sends it)
 *   readCells: serving cell from +CREG/+CEREG (generic) ─► act from ^SYSINFOEX (else ^SYSINFO)
 *              ─► levels from ^HCSQ?
 *
 * Mode/submode tables: ModemManager plugins/huawei/mm-broadband-modem-huawei.c
 * (huawei_sysinfo[ex]_{mode,submode}_to_act), read from its source; not in at-commands.md (§8 notes
 * the gap). HCSQ conversions: the same file, quoted in §2.4.
 */
import type { AtRunner } from '../src/at/types.js';
import { afterPrefix, contentLines, fail, splitParams, toInt, type Parsed } from '../src/at/parsers.js';
import { GenericDriver, answerLines, readIccidVia, readServingCell, succeeded } from './generic.js';
import type { AccessTechnology, CellInfo, DriverId, ModuleIdentity } from './types.js';

export interface HuaweiSysinfo {
  extended: boolean;
  /** 0 no service, 1 restricted, 2 valid, 3 restricted regional, 4 power saving. */
  srvStatus: number;
  srvDomain: number;
  roamStatus: number;
  simState: number;
  sysMode: number;
  sysModeName?: string;
  sysSubmode?: number;
  sysSubmodeName?: string;
  accessTechnology: AccessTechnology;
}

const SYSINFO_SUBMODE: Record<number, AccessTechnology> = { 1: 'GSM', 2: 'GPRS', 3: 'EDGE', 4: 'UMTS', 5: 'HSPA', 6: 'HSPA', 7: 'HSPA', 9: 'HSPA', 17: 'HSPA', 18: 'HSPA' };
const SYSINFO_MODE: Record<number, AccessTechnology> = { 3: 'GPRS', 5: 'UMTS', 7: 'UMTS' };
const SYSINFOEX_SUBMODE: Record<number, AccessTechnology> = { 1: 'GSM', 2: 'GPRS', 3: 'EDGE', 41: 'UMTS', 42: 'HSPA', 43: 'HSPA', 44: 'HSPA', 45: 'HSPA', 46: 'HSPA', 101: 'LTE' };
const SYSINFOEX_MODE: Record<number, AccessTechnology> = { 1: 'GSM', 3: 'UMTS', 6: 'LTE' };

/** MM's rule: no service → unknown; else the submode when it maps, else the mode. */
function actOf(s: Omit<HuaweiSysinfo, 'accessTechnology'>): AccessTechnology {
  if (s.srvStatus === 0) return 'unknown';
  const sub = s.sysSubmode === undefined ? undefined : (s.extended ? SYSINFOEX_SUBMODE : SYSINFO_SUBMODE)[s.sysSubmode];
  return sub ?? (s.extended ? SYSINFOEX_MODE : SYSINFO_MODE)[s.sysMode] ?? 'unknown';
}

/**
 * `^SYSINFO:<srv_status>,<srv_domain>,<roam>,<sys_mode>,<sim_state>[,<lock_state>,<sys_submode>]`
 * and `^SYSINFOEX:<srv_status>,<srv_domain>,<roam>,<sim_state>,<lock_state>,<sysmode>,<name>,
 * <submode>,<name>` (MM test vectors, §2.4: a 6th field alone is lock_state, not a submode).
 */
export function parseSysinfo(line: string): Parsed<HuaweiSysinfo> {
  const ex = afterPrefix(line, '^SYSINFOEX');
  const rest = ex ?? afterPrefix(line, '^SYSINFO');
  if (rest === undefined) return fail('not a ^SYSINFO/^SYSINFOEX line');
  const f = splitParams(rest).map((x) => x.text);
  const n = f.map((x) => toInt(x));
  const base = n.slice(0, 4);
  if (base.some((x) => x === undefined)) return fail(`^SYSINFO fields are not numbers: ${line.trim()}`);
  let s: Omit<HuaweiSysinfo, 'accessTechnology'>;
  if (ex !== undefined) {
    if (n[5] === undefined) return fail(`^SYSINFOEX without a sysmode: ${line.trim()}`);
    s = { extended: true, srvStatus: n[0]!, srvDomain: n[1]!, roamStatus: n[2]!, simState: n[3]!, sysMode: n[5] };
    if (f[6]) s.sysModeName = f[6];
    if (n[7] !== undefined) s.sysSubmode = n[7];
    if (f[8]) s.sysSubmodeName = f[8];
  } else {
    if (n[4] === undefined) return fail(`^SYSINFO without a SIM state: ${line.trim()}`);
    s = { extended: false, srvStatus: n[0]!, srvDomain: n[1]!, roamStatus: n[2]!, sysMode: n[3]!, simState: n[4] };
    if (n[6] !== undefined) s.sysSubmode = n[6];
  }
  return { ...s, accessTechnology: actOf(s) };
}

export interface HuaweiHcsq {
  sysmode: string;
  values: number[];
  rssiDbm?: number;
  ecioDb?: number;
  rsrpDbm?: number;
  sinrDb?: number;
  rsrqDb?: number;
}

/**
 * `^HCSQ: "LTE",30,19,66,0` (RAT quoted or not). GSM: rssi; WCDMA: rssi, rscp (unused), ecio;
 * LTE: rssi, rsrp, sinr, rsrq. `"NOSERVICE"` has no values and is an error, as in MM (§2.4).
 */
export function parseHcsq(line: string): Parsed<HuaweiHcsq> {
  const rest = afterPrefix(line, '^HCSQ');
  if (rest === undefined) return fail('not a ^HCSQ line');
  const f = splitParams(rest);
  const sysmode = (f[0]?.text ?? '').toUpperCase();
  const values = f.slice(1).map((x) => toInt(x.text));
  if (!sysmode || values.length === 0 || values.some((v) => v === undefined)) return fail(`^HCSQ without values: ${line.trim()}`);
  const v = values as number[];
  const out: HuaweiHcsq = { sysmode, values: v };
  // Each conversion only within the range MM accepts (mm-broadband-modem-huawei.c, §2.4).
  if (v[0]! <= 96) out.rssiDbm = -121 + v[0]!;
  if (sysmode === 'WCDMA' && v[2] !== undefined && v[2] <= 65) out.ecioDb = -32.5 + v[2] / 2;
  if (sysmode === 'LTE') {
    if (v[1] !== undefined && v[1] <= 97) out.rsrpDbm = -141 + v[1];
    if (v[2] !== undefined && v[2] <= 251) out.sinrDb = Math.round((-20.2 + v[2] / 5) * 10) / 10;
    if (v[3] !== undefined && v[3] <= 34) out.rsrqDb = -20 + v[3] / 2;
  }
  return out;
}

export class HuaweiDriver extends GenericDriver {
  override readonly id: DriverId = 'huawei';
  override readonly name: string = 'Huawei (^SYSINFOEX, ^HCSQ, ^ICCID, ^CURC)';

  override matches(identity: ModuleIdentity): boolean {
    return /huawei/i.test([identity.manufacturer, identity.model, identity.ati].join(' '));
  }

  override async init(at: AtRunner): Promise<void> {
    await super.init(at);
    await at.send('AT^CURC?');
    await at.send('AT^CURC=0');
  }

  /** `^ICCID:` may be nibble-swapped (`98…`); normalizeIccid turns it round (§1.7). */
  override readIccid(at: AtRunner): Promise<string | undefined> {
    return readIccidVia(at, ['AT^ICCID?', 'AT+CCID']);
  }

  override async readCells(at: AtRunner): Promise<CellInfo[]> {
    const cell = await readServingCell(at);
    if (!cell) return [];
    let r = await at.send('AT^SYSINFOEX');
    if (!succeeded(r)) r = await at.send('AT^SYSINFO');
    if (succeeded(r)) {
      for (const line of contentLines(answerLines(r))) {
        const s = parseSysinfo(line);
        // The vendor's own view is finer than +CREG's AcT (an E173 sends none at all).
        if (!('error' in s) && s.accessTechnology !== 'unknown') cell.act = s.accessTechnology;
      }
    }
    const h = await at.send('AT^HCSQ?');
    if (succeeded(h)) {
      for (const line of contentLines(answerLines(h))) {
        const q = parseHcsq(line);
        if ('error' in q) continue;
        if (q.sysmode === 'GSM' && q.rssiDbm !== undefined) cell.rxlevDbm = q.rssiDbm;
        if (q.rsrpDbm !== undefined) cell.rsrpDbm = q.rsrpDbm;
        if (q.rsrqDb !== undefined) cell.rsrqDb = q.rsrqDb;
      }
    }
    return [cell];
  }
}
