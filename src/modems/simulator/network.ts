/**
 * The radio neighbourhood of a simulated bank. All modems of one pool sit in one flat, so they
 * camp on the same few cells: the bank draws one RadioSite and each modem sees it with its own
 * small level jitter.
 *
 *   RadioSite ── per operator and RAT ──► SimCell[] (strongest first)
 *        │
 *        └─ cellsFor(site, op, rat, rng) ──► CellEnvironment { serving, neighbours }
 *
 * Numbers are synthetic but in the ranges the vendors report (§2.1–2.4): GSM ARFCNs in China
 * Mobile's 1–94 and Unicom's 96–124, Unicom UMTS on UARFCN 10713 (the value in Quectel's own
 * example, §2.1), China Mobile TD-LTE on bands 40/41, Unicom/Telecom FDD band 3.
 */
import type { OperatorKey } from './identity.js';
import type { Rng } from './random.js';
import type { CellEnvironment, Rat, SimCell } from './types.js';

export type RadioSite = Map<string, SimCell[]>;

const RATS_BY_OPERATOR: Record<OperatorKey, readonly Rat[]> = {
  // China Mobile's 3G was TD-SCDMA, which none of our profiles speaks; Telecom's 2G/3G is CDMA.
  cmcc: ['LTE', 'GSM'],
  unicom: ['LTE', 'WCDMA', 'GSM'],
  telecom: ['LTE'],
};

const MNC: Record<OperatorKey, string> = { cmcc: '00', unicom: '01', telecom: '11' };

function key(op: OperatorKey, rat: Rat): string {
  return `${op}/${rat}`;
}

function gsmCells(op: OperatorKey, rng: Rng): SimCell[] {
  const lacs = [rng.int(0x1000, 0xfffe), rng.int(0x1000, 0xfffe)];
  const [lo, hi] = op === 'cmcc' ? [1, 94] : [96, 124];
  const out: SimCell[] = [];
  for (let i = 0; i < 7; i++) {
    out.push({
      rat: 'GSM', mcc: '460', mnc: MNC[op], lac: lacs[i < 4 ? 0 : 1] ?? 0x5504, ci: rng.int(0x0100, 0xfffe),
      arfcn: rng.int(lo, hi), bsic: rng.int(0, 63), psc: 0, pci: 0, band: 900,
      levelDbm: -58 - i * 6 - rng.int(0, 4), quality: i === 0 ? 0 : 99, sinr: 0,
    });
  }
  return out;
}

function wcdmaCells(op: OperatorKey, rng: Rng): SimCell[] {
  const lac = rng.int(0x1000, 0xfffe);
  const rnc = rng.int(0x100, 0xfff);
  const out: SimCell[] = [];
  for (let i = 0; i < 4; i++) {
    out.push({
      rat: 'WCDMA', mcc: '460', mnc: MNC[op], lac, ci: (rnc << 16) | rng.int(0x1000, 0xfffe),
      arfcn: i < 3 ? 10713 : 10688, bsic: 0, psc: rng.int(0, 511), pci: 0, band: 1,
      levelDbm: -72 - i * 7 - rng.int(0, 3), quality: -4 - i * 2, sinr: 0,
    });
  }
  return out;
}

function lteCells(op: OperatorKey, rng: Rng): SimCell[] {
  const tac = rng.int(0x1000, 0xfffe);
  const enb = rng.int(0x10000, 0xfffff);
  const [band, earfcn] = op === 'cmcc' ? rng.pick([[40, 38950], [41, 40936]] as const) : op === 'unicom' ? [3, 1650] : [3, 1825];
  const out: SimCell[] = [];
  for (let i = 0; i < 4; i++) {
    out.push({
      rat: 'LTE', mcc: '460', mnc: MNC[op], lac: tac, ci: (enb << 8) | rng.int(1, 3) + i * 16,
      arfcn: earfcn, bsic: 0, psc: 0, pci: rng.int(0, 503), band,
      levelDbm: -86 - i * 6 - rng.int(0, 3), quality: -7 - i, sinr: 18 - i * 5, // rsrp, rsrq, sinr
    });
  }
  return out;
}

export function makeRadioSite(rng: Rng): RadioSite {
  const site: RadioSite = new Map();
  for (const op of Object.keys(RATS_BY_OPERATOR) as OperatorKey[]) {
    for (const rat of RATS_BY_OPERATOR[op]) {
      const r = rng.fork(key(op, rat));
      site.set(key(op, rat), rat === 'GSM' ? gsmCells(op, r) : rat === 'WCDMA' ? wcdmaCells(op, r) : lteCells(op, r));
    }
  }
  return site;
}

/** The best RAT both the module and the operator offer (undefined: the SIM cannot register). */
export function bestRat(moduleRats: readonly Rat[], op: OperatorKey): Rat | undefined {
  return RATS_BY_OPERATOR[op].find((r) => moduleRats.includes(r));
}

/** A modem's view of the site: same cells, levels jittered by a few dB. */
export function cellsFor(site: RadioSite, op: OperatorKey, rat: Rat, rng: Rng): CellEnvironment {
  const cells = site.get(key(op, rat)) ?? [];
  const seen = cells.map((c) => ({ ...c, levelDbm: c.levelDbm + rng.int(-3, 3) }));
  const [serving, ...neighbours] = seen;
  if (!serving) throw new RangeError(`no ${rat} cells for ${op}`);
  return { serving, neighbours };
}

/** A cell to show when nothing is camped on (no SIM, or a SIM of an operator the module cannot use). */
export function noServiceCells(rng: Rng): CellEnvironment {
  return cellsFor(makeRadioSite(rng), 'cmcc', 'GSM', rng);
}

/**
 * +CSQ from the serving level: rssi = (dBm + 113) / 2 clamped to 0..31 (27.007; MM reads
 * it back as CLAMP(rssi,0,31)*100/31 %, §1.5). LTE RSSI is roughly RSRP + 25 dB (inference).
 */
export function csqFromCell(cell: SimCell): { rssi: number; ber: number } {
  const rssiDbm = cell.rat === 'LTE' ? cell.levelDbm + 25 : cell.levelDbm;
  return { rssi: Math.max(0, Math.min(31, Math.round((rssiDbm + 113) / 2))), ber: 99 };
}

export const RAT_ACT: Record<Rat, number> = { GSM: 0, WCDMA: 2, LTE: 7 };
