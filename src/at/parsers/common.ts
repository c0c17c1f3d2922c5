/**
 * Shared pieces of the AT response parsers: the `{ error }` result, quote-aware parameter
 * splitting, prefix stripping and the number helpers every parser needs.
 *
 * Parsers are pure functions over the information lines of an `AtResponse` (echo, URCs and the
 * final result already removed by the channel). None of them throws: garbage yields
 * `{ error: reason }`, so a malformed answer is counted and skipped by the caller (STYLE.md).
 */
import type { AccessTechnology } from '../../../drivers/types.js';

/** Why a response could not be read. */
export interface ParseError {
  error: string;
}

/** A typed value, or why there is none. */
export type Parsed<T> = T | ParseError;

export function fail(error: string): ParseError {
  return { error };
}

export function isParseError(value: unknown): value is ParseError {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string';
}

/** One parameter of a comma-separated AT list, with its quotes removed. */
export interface AtField {
  text: string;
  /** The parameter was written as a quoted string (an empty `""` is quoted, an empty `,,` is not). */
  quoted: boolean;
}

/**
 * Split `a,"b,c", d` into parameters. Commas inside double quotes do not split (Samsung Z810
 * `"T-Mobile USA, In"`, at-commands.md §1.4); spaces around an unquoted value are dropped
 * (Gobi/Thuraya pad fields, §1.3). An unterminated quote runs to the end of the line.
 */
export function splitParams(s: string): AtField[] {
  const out: AtField[] = [];
  let text = '';
  let quoted = false;
  let inQuote = false;
  for (const c of s) {
    if (c === '"') {
      // Spaces before an opening quote are padding, not part of the value.
      if (!inQuote && !quoted && text.trim() === '') text = '';
      inQuote = !inQuote;
      quoted = true;
    } else if (c === ',' && !inQuote) {
      out.push({ text: quoted ? text : text.trim(), quoted });
      text = '';
      quoted = false;
    } else if (inQuote || !quoted || c.trim() !== '') {
      text += c;
    }
  }
  out.push({ text: quoted ? text : text.trim(), quoted });
  return out;
}

/**
 * The text after `prefix:` when the line starts with it (case-insensitive, any spaces after the
 * colon: `+CREG:002`, `+QENG:"servingcell"` and `+CPSI: LTE` all occur, §1.3, §2.1, §2.2).
 */
export function afterPrefix(line: string, prefix: string): string | undefined {
  const t = line.trimStart();
  if (t.length < prefix.length + 1) return undefined;
  if (t.slice(0, prefix.length).toUpperCase() !== prefix.toUpperCase()) return undefined;
  if (t[prefix.length] !== ':') return undefined;
  return t.slice(prefix.length + 1).trim();
}

/** Every line that carries `prefix:`, with the prefix removed. */
export function prefixed(lines: readonly string[], prefix: string): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const rest = afterPrefix(line, prefix);
    if (rest !== undefined) out.push(rest);
  }
  return out;
}

/** Non-empty information lines, trimmed (a `\r\r\n` SIMCom ending leaves `\r` behind, §1.10). */
export function contentLines(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/[\r\n]+/g, '').trim()).filter((l) => l.length > 0);
}

/** A decimal integer (leading zeros and a sign allowed: `002`, `-104`), else undefined. */
export function toInt(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^[+-]?\d{1,9}$/.test(t)) return undefined;
  return Number.parseInt(t, 10);
}

/** A decimal number that may have a fraction (`5.5`, `-7.5`). */
export function toNumber(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^[+-]?\d{1,9}(\.\d{1,6})?$/.test(t)) return undefined;
  return Number.parseFloat(t);
}

/** A hex identifier (LAC, TAC, cell id) uppercased without `0x`; empty or non-hex gives undefined. */
export function toHexId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim().replace(/^0x/i, '');
  if (!/^[0-9A-Fa-f]{1,16}$/.test(t)) return undefined;
  return t.toUpperCase();
}

/**
 * 3GPP TS 27.007 <AcT> (used by +CREG/+CGREG/+CEREG and +COPS) as our access technology.
 * MM's test vectors show 0 GSM, 2 UMTS, 3 EDGE, 7 LTE (§1.3) and 12 → 5G NR (Sierra EM9191, §1.4);
 * the rest follow the 27.007 table (4–6 HSDPA/HSUPA/both, 8 EC-GSM-IoT, 9 NB-IoT, 10 E-UTRA/5GCN,
 * 11 NR/5GCN, 13 E-UTRA-NR dual connectivity).
 */
export function actFrom27007(n: number | undefined): AccessTechnology | undefined {
  switch (n) {
    case 0: case 1: case 8: return 'GSM';
    case 2: return 'UMTS';
    case 3: return 'EDGE';
    case 4: case 5: case 6: return 'HSPA';
    case 7: case 9: case 10: return 'LTE';
    case 11: case 12: case 13: return 'NR5G';
    case undefined: return undefined;
    default: return 'unknown';
  }
}
