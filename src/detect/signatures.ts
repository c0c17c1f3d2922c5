/**
 * Signatures as data (DESIGN §4): each row says which observation kind it reads, the conditions
 * on its fields, the family and weight it lends, and where the fact comes from. Lab staff add rows
 * in a JSON file (`--signatures FILE`) without touching code; every row is validated on load.
 *
 *   { "id": "dhcp-vendor-class-dbl", "kind": "dhcp", "where": [{ "field": "vendorClass", "equals": ["dbl"] }],
 *     "family": "goip", "category": "dhcp-vendor-class", "strength": "medium", "weight": 0.6, ... }
 *
 * Conditions: `present`, `equals` (any of, case-insensitive), `startsWith` (any of, case-insensitive),
 * `regex` (case-insensitive), `gte` (number). A field path may go through objects and arrays
 * (`sdp.media.codecs`): a condition holds when any value on the path satisfies it.
 */
import { readFileSync } from 'node:fs';
import builtin from './signatures.json' with { type: 'json' };
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';
import { families, type Family, type FindingKind, type Strength } from './model.js';

export interface Condition {
  field: string;
  present?: boolean;
  equals?: string[];
  startsWith?: string[];
  regex?: string;
  gte?: number;
}

export interface Signature {
  id: string;
  family: Family;
  finding: FindingKind;
  category: string;
  strength: Strength;
  weight: number;
  kind: string;
  where: Condition[];
  summary: string;
  source: string;
}

/** A signature with its conditions compiled for matching. */
export interface CompiledSignature extends Signature {
  test(obs: object): boolean;
}

const strengths: Strength[] = ['weak', 'medium', 'strong'];
const findingKinds: FindingKind[] = ['voip-gsm-gateway', 'sms-server'];

/** Values at a dotted path, flattening arrays on the way. */
export function valuesAt(obj: unknown, path: string): unknown[] {
  let current: unknown[] = [obj];
  for (const part of path.split('.')) {
    const next: unknown[] = [];
    for (const v of current) {
      const items = Array.isArray(v) ? v : [v];
      for (const item of items) {
        if (item !== null && typeof item === 'object' && part in item) {
          next.push((item as Record<string, unknown>)[part]);
        }
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v) => v !== undefined && v !== null && v !== '');
}

function compileCondition(c: Condition, where: string): (obs: object) => boolean {
  const ops = ['present', 'equals', 'startsWith', 'regex', 'gte'].filter((k) => (c as unknown as Record<string, unknown>)[k] !== undefined);
  if (typeof c.field !== 'string' || c.field === '') throw new Error(`${where}: a condition needs a "field"`);
  if (ops.length !== 1) throw new Error(`${where}: a condition on "${c.field}" needs exactly one of present, equals, startsWith, regex, gte`);
  if (c.present !== undefined) {
    const want = c.present;
    return (o) => (valuesAt(o, c.field).length > 0) === want;
  }
  if (c.equals !== undefined) {
    if (!Array.isArray(c.equals) || c.equals.some((x) => typeof x !== 'string')) throw new Error(`${where}: "equals" must be a list of strings`);
    const set = new Set(c.equals.map((x) => x.toLowerCase()));
    return (o) => valuesAt(o, c.field).some((v) => set.has(String(v).toLowerCase()));
  }
  if (c.startsWith !== undefined) {
    if (!Array.isArray(c.startsWith) || c.startsWith.some((x) => typeof x !== 'string')) throw new Error(`${where}: "startsWith" must be a list of strings`);
    const prefixes = c.startsWith.map((x) => x.toLowerCase());
    return (o) => valuesAt(o, c.field).some((v) => { const s = String(v).toLowerCase(); return prefixes.some((p) => s.startsWith(p)); });
  }
  if (c.regex !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(c.regex, 'i');
    } catch (e) {
      throw new Error(`${where}: bad regex ${JSON.stringify(c.regex)}: ${describeError(e)}`);
    }
    return (o) => valuesAt(o, c.field).some((v) => re.test(String(v)));
  }
  const min = c.gte;
  if (typeof min !== 'number' || !Number.isFinite(min)) throw new Error(`${where}: "gte" must be a number`);
  return (o) => valuesAt(o, c.field).some((v) => typeof v === 'number' && v >= min);
}

export function compileSignature(raw: unknown, where: string): CompiledSignature {
  if (raw === null || typeof raw !== 'object') throw new Error(`${where}: not an object`);
  const s = raw as Signature;
  const at = `${where} (${String(s.id)})`;
  if (typeof s.id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(s.id)) throw new Error(`${where}: "id" must be lowercase letters, digits and dashes`);
  if (!families.includes(s.family)) throw new Error(`${at}: "family" must be one of ${families.join(', ')}`);
  const finding = s.finding ?? 'voip-gsm-gateway';
  if (!findingKinds.includes(finding)) throw new Error(`${at}: "finding" must be one of ${findingKinds.join(', ')}`);
  if (!strengths.includes(s.strength)) throw new Error(`${at}: "strength" must be weak, medium or strong`);
  if (typeof s.weight !== 'number' || !(s.weight > 0 && s.weight < 1)) throw new Error(`${at}: "weight" must be a number between 0 and 1 (exclusive)`);
  for (const k of ['kind', 'category', 'summary', 'source'] as const) {
    if (typeof s[k] !== 'string' || s[k] === '') throw new Error(`${at}: "${k}" is required (a non-empty string)`);
  }
  if (!Array.isArray(s.where) || s.where.length === 0) throw new Error(`${at}: "where" must be a non-empty list of conditions`);
  const tests = s.where.map((c, i) => compileCondition(c, `${at} condition ${i + 1}`));
  return { ...s, finding, test: (o) => tests.every((t) => t(o)) };
}

export function compileTable(doc: unknown, origin: string): CompiledSignature[] {
  const list = (doc as { signatures?: unknown })?.signatures;
  if (!Array.isArray(list)) throw new GoipwatchError(ErrorCodes.Signatures, `${origin}: expected {"signatures": [...]}`);
  try {
    const out = list.map((raw, i) => compileSignature(raw, `${origin} row ${i + 1}`));
    const seen = new Set<string>();
    for (const s of out) {
      if (seen.has(s.id)) throw new Error(`${origin}: signature id "${s.id}" appears twice`);
      seen.add(s.id);
    }
    return out;
  } catch (e) {
    if (e instanceof GoipwatchError) throw e;
    throw new GoipwatchError(ErrorCodes.Signatures, describeError(e), { origin });
  }
}

export function builtinSignatures(): CompiledSignature[] {
  return compileTable(builtin, 'built-in signatures');
}

/** The built-in table plus the rows of extra files; an extra row with a built-in id replaces it. */
export function loadSignatures(extraFiles: string[] = []): CompiledSignature[] {
  const byId = new Map(builtinSignatures().map((s) => [s.id, s]));
  for (const file of extraFiles) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new GoipwatchError(ErrorCodes.Signatures, `cannot read signature file ${file}: ${describeError(e)}`, { file });
    }
    for (const s of compileTable(doc, file)) byId.set(s.id, s);
  }
  return [...byId.values()];
}

/** Fill "{field}" placeholders in a summary from the observation (first value; "?" when absent). */
export function renderSummary(template: string, obs: object): string {
  return template.replace(/\{([A-Za-z0-9_.]+)\}/g, (_, path: string) => {
    const vs = valuesAt(obs, path);
    if (vs.length === 0) return '?';
    return vs.slice(0, 3).map(String).join(', ') + (vs.length > 3 ? ', …' : '');
  });
}
