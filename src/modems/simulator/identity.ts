/**
 * Identities of a simulated module and its SIM: IMEI, ICCID, IMSI, MSISDN, operator.
 *
 *   TAC (8) + serial (6) + Luhn (1)            = IMEI   (at-commands.md §5, GoIP manual §5.3.12)
 *   89 86 <op> + account digits + Luhn          = ICCID  (19/20 digits, §1.7; 8986 = China)
 *   460 <mnc> + MSIN (10)                       = IMSI   (15 digits or fewer, §1.7)
 *
 * Everything is drawn from a seeded Rng. A bank can hand out consecutive ICCIDs, as a batch of
 * bulk-bought cards has (the `iccid-consecutive-run` finding looks for exactly that).
 */
import type { Rng } from './random.js';
import type { Operator } from './types.js';

/** Luhn check digit for a string of decimal digits (IMEI and ICCID both use it). */
export function luhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    // Double every second digit counting from the right of the body (the check digit's neighbour first).
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** The Luhn check is the AT layer's (one implementation for parsers, findings and simulator). */
export { luhnValid } from '../../at/parsers/identity.js';

export function makeImei(tac: string, rng: Rng): string {
  const body = tac + rng.digits(6);
  return body + luhnDigit(body);
}

/** Chinese operators as +COPS names them (long names as Chinese modules print them; inference). */
export const OPERATORS = {
  cmcc: { long: 'CHINA MOBILE', short: 'CMCC', numeric: '46000' },
  unicom: { long: 'CHN-UNICOM', short: 'UNICOM', numeric: '46001' },
  telecom: { long: 'CHN-CT', short: 'CT', numeric: '46011' },
} as const satisfies Record<string, Operator>;

export type OperatorKey = keyof typeof OPERATORS;

/** ICCID issuer digits after 8986: 00 China Mobile, 01 China Unicom, 11 China Telecom. */
const ICCID_ISSUER: Record<OperatorKey, string> = { cmcc: '00', unicom: '01', telecom: '11' };

/** Mobile number prefixes per operator (public numbering plan of mainland China). */
const MSISDN_PREFIXES: Record<OperatorKey, readonly string[]> = {
  cmcc: ['134', '135', '136', '137', '138', '139', '147', '150', '151', '152', '157', '158', '159', '182', '183', '187', '188', '198'],
  unicom: ['130', '131', '132', '145', '155', '156', '166', '175', '176', '185', '186'],
  telecom: ['133', '149', '153', '173', '177', '180', '181', '189', '199'],
};

/**
 * Service centre: China Mobile's 13800 <area> 0500 pattern (Beijing +8613800100500, Hangzhou
 * +8613800571500); Unicom's 13010 … 500 (inference from published numbers). 11 national digits.
 */
export function makeSmsc(op: OperatorKey, rng: Rng): string {
  const area = rng.pick(['10', '20', '21', '571', '755', '28']);
  if (op === 'cmcc') return `+8613800${area}${area.length === 2 ? '0500' : '500'}`;
  return `+8613010${rng.digits(3)}500`;
}

/**
 * The 19-digit body of an ICCID (check digit not included): 8986 + issuer + 13 account digits.
 * `serial` makes cards of one batch consecutive: the last six account digits are base + serial.
 */
export function iccidBody(op: OperatorKey, batch: string, serial: number): string {
  const tail = String(serial % 1_000_000).padStart(6, '0');
  return `8986${ICCID_ISSUER[op]}${batch.slice(0, 7).padEnd(7, '0')}${tail}`;
}

export function makeIccid(op: OperatorKey, batch: string, serial: number): string {
  const body = iccidBody(op, batch, serial);
  return body + luhnDigit(body);
}

/** A random 7-digit batch part for makeIccid (year, province, supplier in real cards). */
export function makeIccidBatch(rng: Rng): string {
  return `${rng.int(15, 24)}${rng.digits(5)}`;
}

export function makeImsi(op: OperatorKey, rng: Rng): string {
  // China Mobile also uses MNC 02/07 in IMSIs while advertising 46000 on the network.
  const mnc = op === 'cmcc' ? rng.pick(['00', '02', '07']) : op === 'unicom' ? '01' : '11';
  return `460${mnc}${rng.digits(10)}`;
}

export function makeMsisdn(op: OperatorKey, rng: Rng): string {
  return `+86${rng.pick(MSISDN_PREFIXES[op])}${rng.digits(8)}`;
}

/**
 * ICCID as EF_ICCID stores it: BCD with nibbles swapped, padded with F to 20 nibbles. This is
 * what +CRSM=176,12258,0,0,10 returns and what mm_3gpp_parse_iccid() un-swaps (§1.7).
 */
export function swapIccidNibbles(iccid: string): string {
  const padded = iccid.padEnd(20, 'F');
  let out = '';
  for (let i = 0; i < padded.length; i += 2) out += padded.charAt(i + 1) + padded.charAt(i);
  return out;
}
