/**
 * Dialled numbers: one normal form, and which configured range (e.g. mainland China mobile) a
 * number falls in. The ranges are data (number-ranges.json, one `source` per row).
 *
 *   "+86 138-1234-5678" ─┐
 *   "008613812345678"   ─┤
 *   "8613812345678"     ─┼─► normaliseNumber ─► "13812345678" ─► matchRange ─► "CN mobile, China Mobile …"
 *   "013812345678"      ─┤        (CN: national significant number)
 *   "13812345678"       ─┘
 *   "0049 151 …" / "+49151…" ─► "+49151…"  (other countries keep their country code, with "+")
 *
 * Number structure (Wikipedia "Telephone numbers in China"; regulator MIIT): country code 86,
 * international prefix 00, trunk prefix 0; mobile numbers are 11 digits starting 13x-19x with no
 * area code; landlines are a 2-digit (10, 2x) or 3-digit area code plus a 7-8 digit local number,
 * i.e. a 10- or 11-digit national significant number. A mobile dialled from a landline outside
 * its home area takes the trunk 0 too ("0138…").
 */
import table from './number-ranges.json' with { type: 'json' };
import type { NumberRange } from './types.js';

/** Mainland China mobile ranges (number-ranges.json). */
export const defaultMobileRanges: NumberRange[] = table.ranges.map((r) => ({ name: r.name, pattern: r.pattern, source: r.source }));

const CN = '86';
/** A plausible CN national significant number: 11-digit mobile, or area code + local number. */
const CN_NSN = /^(?:1[3-9]\d{9}|(?:10|2\d)\d{8}|[3-9]\d{9,10})$/;

/**
 * The normal form of a dialled number: digits only; mainland China numbers (+86, 0086, 86 before a
 * full national number, or a national number with its trunk 0) as the national significant number;
 * other international numbers as "+<country code><number>"; anything else (short codes, local
 * numbers, non-numeric SIP users) unchanged apart from separators.
 */
export function normaliseNumber(digits: string): string {
  // SIP user parts may carry parameters (";phone-context=…", ";isub=…") and visual separators (RFC 3966 §5.1.1).
  let s = digits.split(';')[0]!.trim().replace(/^tel:/i, '').replace(/[\s\-.()]/g, '');
  if (!/^\+?\d+$/.test(s)) return s;
  let international = false;
  if (s.startsWith('+')) {
    international = true;
    s = s.slice(1);
  } else if (s.startsWith('00')) {
    international = true;
    s = s.slice(2);
  }
  if (international) {
    if (!s.startsWith(CN)) return `+${s}`;
    // "+86 0755 …" is a common mistake; the trunk 0 is never dialled after the country code.
    const nsn = s.slice(2).replace(/^0(?=[1-9])/, '');
    return nsn;
  }
  // "86" written before a full national number, without + or 00 (seen in From/To users of trunks).
  if (s.startsWith(CN) && CN_NSN.test(s.slice(2))) return s.slice(2);
  // National trunk prefix.
  if (/^0[1-9]/.test(s) && CN_NSN.test(s.slice(1))) return s.slice(1);
  return s;
}

const compiled = new Map<string, RegExp | null>();

/** A range's pattern compiled once; null (never matching) when the pattern is not a valid regular expression. */
function compile(pattern: string): RegExp | null {
  let re = compiled.get(pattern);
  if (re === undefined) {
    re = validatePattern(pattern) === undefined ? new RegExp(pattern) : null;
    if (compiled.size > 1024) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/** Why a range pattern is unusable (for the config loader), or undefined when it compiles. */
export function validatePattern(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The first range the normalised number matches. Invalid patterns never match (the config loader reports them). */
export function matchRange(digits: string, ranges: NumberRange[]): NumberRange | undefined {
  const n = normaliseNumber(digits);
  for (const r of ranges) {
    if (compile(r.pattern)?.test(n)) return r;
  }
  return undefined;
}

/** Does the string look like a phone number (digits, optional +, 3–20 digits) rather than an account name? */
export function isPhoneNumber(user: string | undefined): boolean {
  if (!user) return false;
  return /^\+?\d{3,20}$/.test(user.split(';')[0]!.replace(/[\s\-.()]/g, ''));
}
