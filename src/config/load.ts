/**
 * Config loading (after zigbee2mqtt): one YAML or JSON file, checked against src/config/schema.json
 * (the single source of truth for names, ranges and defaults), then environment overrides for
 * secrets, then paths made absolute and secret files read.
 *
 *   file ──► YAML parse ──► env overrides ──► ajv (defaults, allErrors) ──► cross-field checks
 *        ──► paths resolved, secret files read ──► GoipwatchConfig
 *
 * Every problem is reported at once, as "path (line n): what is wrong", in a GoipwatchError with
 * ErrorCodes.Config (exit 2). Values of secrets never appear in a message: YAML parser snippets
 * are dropped and only enum/range errors of non-secret keys echo the value.
 */
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';
import schema from './schema.json' with { type: 'json' };
import type { ConfigProblem, GoipwatchConfig, LoadedConfig } from './types.js';
import { mergeBehaviour, type BehaviourOverrides } from '../behaviour/defaults-merge.js';

export const DEFAULT_CONFIG_PATH = '/etc/goipwatch/config.yaml';

/** Environment overrides; `_FILE` forms are applied first so a direct value wins over a file. */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: readonly string[]; clears?: string }> = [
  { env: 'GOIPWATCH_PROBE_ID', path: ['probe', 'id'] },
  { env: 'GOIPWATCH_LOG_LEVEL', path: ['log', 'level'] },
  { env: 'GOIPWATCH_MQTT_URL', path: ['mqtt', 'url'] },
  { env: 'GOIPWATCH_MQTT_USERNAME', path: ['mqtt', 'username'] },
  { env: 'GOIPWATCH_MQTT_PASSWORD_FILE', path: ['mqtt', 'passwordFile'], clears: 'password' },
  { env: 'GOIPWATCH_MQTT_PASSWORD', path: ['mqtt', 'password'], clears: 'passwordFile' },
  { env: 'GOIPWATCH_HASH_KEY_FILE', path: ['mqtt', 'hashKeyFile'], clears: 'hashKey' },
  { env: 'GOIPWATCH_HASH_KEY', path: ['mqtt', 'hashKey'], clears: 'hashKeyFile' },
];

const SECRET_KEYS = new Set(['password', 'hashKey']);

export interface LoadOptions {
  /** Environment to read overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Host name for the default probe id (default os.hostname()). */
  hostname?: string;
}

/** The config path: the --config value, else GOIPWATCH_CONFIG, else /etc/goipwatch/config.yaml. */
export function resolveConfigPath(cliValue?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(cliValue ?? (env.GOIPWATCH_CONFIG || DEFAULT_CONFIG_PATH));
}

/** Read, validate and complete a config file (YAML; JSON is valid YAML). */
export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found (copy config/goipwatch.example.yaml there, or pass --config)'
      : code === 'EACCES' ? 'permission denied (the file should be mode 0640, group goipwatch)' : describeError(e);
    throw new GoipwatchError(ErrorCodes.Config, `config ${abs}: ${why}`, { file: abs }, { cause: e });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Only the parser's sentence and the position: its pretty form quotes the line, which may hold a secret.
    // Some parser messages quote the offending token ("…token in YAML stream: \"x\""): drop the quote.
    const problems = doc.errors.map((e) => ({ path: '', message: `YAML syntax: ${e.message.replace(/:\s*".*"$/, '')}`, line: lineCounter.linePos(e.pos[0]).line }));
    throw configError(abs, problems);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // Unresolved or excessive aliases (*name) surface only here, as a plain Error.
    throw configError(abs, [{ path: '', message: `YAML: ${describeError(e).replace(/:\s*\S+$/, '')}` }]);
  }
  const warnings: string[] = [];
  if (isRecord(data) && isRecord(data.mqtt) && (data.mqtt.password !== undefined || data.mqtt.hashKey !== undefined)) {
    const mode = (await stat(abs)).mode;
    if (mode & 0o004) warnings.push(`${abs} holds a secret and is readable by every user: chmod 0640 it (group goipwatch), or use mqtt.passwordFile / GOIPWATCH_MQTT_PASSWORD_FILE`);
  }
  const loaded = await configFromObject(data ?? {}, { ...opts, file: abs, doc, lineCounter });
  loaded.warnings.unshift(...warnings);
  return loaded;
}

interface FromObjectOptions extends LoadOptions {
  /** Relative paths are resolved against this directory (default: the file's, else the cwd). */
  baseDir?: string;
  file?: string;
  doc?: Document;
  lineCounter?: LineCounter;
}

/** Validate and complete a config given as an object (a parsed file, or `{}` for all defaults). */
export async function configFromObject(input: unknown, opts: FromObjectOptions = {}): Promise<LoadedConfig> {
  const where = opts.file ?? 'config';
  if (!isRecord(input)) {
    throw configError(where, [{ path: '', message: 'must be a mapping of sections (probe:, capture:, modems:, store:, mqtt:, …)' }]);
  }
  const data = structuredClone(input);
  const envApplied: string[] = [];
  const warnings: string[] = [];
  const envByPath = new Map<string, string>();
  const env = opts.env ?? process.env;
  for (const o of ENV_OVERRIDES) {
    const value = env[o.env];
    if (value === undefined || value === '') continue;
    const section = (data[o.path[0]] = isRecord(data[o.path[0]]) ? data[o.path[0]] : {}) as Record<string, unknown>;
    if (o.clears && section[o.clears] !== undefined) {
      if (envByPath.has(`${o.path[0]}.${o.clears}`)) warnings.push(`${o.env} overrides ${envByPath.get(`${o.path[0]}.${o.clears}`)}`);
      delete section[o.clears];
    }
    section[o.path[1]] = value;
    envByPath.set(o.path.join('.'), o.env);
    envApplied.push(o.env);
  }

  if (!validate(data)) {
    const found = (validate.errors ?? []).map((e) => describeAjvError(e, opts, envByPath)).filter(uniqueProblem());
    throw configError(where, found.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)));
  }
  const config = data as unknown as GoipwatchConfig;
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string): void => {
    problems.push({ path, message, line: lineOf(opts, path.split('.')), env: envByPath.get(path) });
  };
  const m = config.mqtt;
  if (m) {
    const raw = data.mqtt as Record<string, unknown>;
    if (raw.password !== undefined && raw.passwordFile !== undefined) problem('mqtt.password', 'set either mqtt.password or mqtt.passwordFile, not both');
    if (raw.hashKey !== undefined && raw.hashKeyFile !== undefined) problem('mqtt.hashKey', 'set either mqtt.hashKey or mqtt.hashKeyFile, not both');
    if (m.backoff.maxMs < m.backoff.initialMs) problem('mqtt.backoff.maxMs', `must not be below mqtt.backoff.initialMs (${m.backoff.initialMs} ms)`);
    if (m.identifiers === 'hashed' && raw.hashKey === undefined && raw.hashKeyFile === undefined) {
      problem('mqtt.hashKey', "is required when mqtt.identifiers is 'hashed' (set mqtt.hashKeyFile, GOIPWATCH_HASH_KEY_FILE or GOIPWATCH_HASH_KEY)");
    }
    if (m.url.startsWith('mqtt://') && (m.tls.ca || m.tls.cert || m.tls.key)) {
      warnings.push('mqtt.tls is set but mqtt.url is mqtt:// (plain TCP): use mqtts:// for TLS');
    }
    if (m.url.startsWith('mqtt://') && (raw.password !== undefined || raw.passwordFile !== undefined)) {
      warnings.push('the MQTT password is sent in clear text over mqtt://: prefer mqtts://');
    }
  }
  config.behaviour = mergeBehaviour((data as { behaviour?: BehaviourOverrides }).behaviour);
  config.behaviour.mobileRanges.forEach((r, i) => {
    try {
      new RegExp(r.pattern);
    } catch (e) {
      problem(`behaviour.mobileRanges.${i}.pattern`, `is not a regular expression: ${describeError(e)}`);
    }
  });
  if (problems.length > 0) throw configError(where, problems);
  for (const p of config.modems.ports) {
    if (/^\/dev\/tty(USB|ACM)\d+$/.test(p.path)) warnings.push(`modems.ports: ${p.path} may name another modem after a reset or re-plug: use its /dev/serial/by-path link`);
  }

  // Paths: relative to the config file's directory; the store relative to the state directory.
  const base = opts.baseDir ?? (opts.file ? dirname(opts.file) : process.cwd());
  config.probe.stateDir = resolve(base, config.probe.stateDir);
  config.store.path = resolve(config.probe.stateDir, config.store.path);
  config.probe.id ??= defaultProbeId(opts.hostname ?? hostname());
  if (m) {
    for (const k of ['ca', 'cert', 'key'] as const) if (m.tls[k] !== undefined) m.tls[k] = resolve(base, m.tls[k]);
    if (m.passwordFile !== undefined) {
      m.passwordFile = resolve(base, m.passwordFile);
      m.password = await readSecretFile(m.passwordFile, 'mqtt.passwordFile', envByPath, problems);
    }
    if (m.hashKeyFile !== undefined) {
      m.hashKeyFile = resolve(base, m.hashKeyFile);
      const key = await readSecretFile(m.hashKeyFile, 'mqtt.hashKeyFile', envByPath, problems);
      if (key !== undefined && key.length < 16) problems.push({ path: 'mqtt.hashKeyFile', message: `the key in ${m.hashKeyFile} must be at least 16 characters` });
      m.hashKey = key;
    }
  }
  if (problems.length > 0) throw configError(where, problems);
  return { config, file: opts.file, envApplied, warnings };
}

/** A copy safe to log or print: secrets replaced by "***". */
export function redactConfig(config: GoipwatchConfig): GoipwatchConfig {
  const copy = structuredClone(config);
  if (copy.mqtt?.password !== undefined) copy.mqtt.password = '***';
  if (copy.mqtt?.hashKey !== undefined) copy.mqtt.hashKey = '***';
  return copy;
}

/** Host name → a topic-safe probe id ("pi-flat12.local" → "pi-flat12"). */
export function defaultProbeId(host: string): string {
  const id = (host.split('.')[0] ?? '').replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return id || 'goipwatch-probe';
}

// ---- validation -------------------------------------------------------------------------------

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
// Annotation keywords of our schema: a readable hint for the error message, and "never echo this value".
ajv.addKeyword('x-hint');
ajv.addKeyword('x-secret');
const validate = ajv.compile(schema);

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  'x-hint'?: string;
  'x-secret'?: boolean;
}

function describeAjvError(e: ErrorObject, opts: FromObjectOptions, envByPath: Map<string, string>): ConfigProblem {
  const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const node = (e.parentSchema ?? {}) as SchemaNode;
  let message: string;
  let keyLine = false;
  if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: string }).missingProperty);
    segments.push(missing);
    const hint = node.properties?.[missing]?.['x-hint'];
    message = hint ? `is required: it ${hint}` : 'is required';
  } else if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    segments.push(extra);
    keyLine = true;
    const known = Object.keys(node.properties ?? {});
    const close = known.find((k) => k.toLowerCase() === extra.toLowerCase() || editDistance(k.toLowerCase(), extra.toLowerCase()) <= (extra.length <= 4 ? 1 : 2));
    message = close ? `unknown key (did you mean '${close}'?)` : `unknown key; allowed here: ${known.join(', ')}`;
  } else {
    const secret = node['x-secret'] === true || segments.some((s) => SECRET_KEYS.has(s));
    const got = secret || e.keyword === 'pattern' ? '' : ` (got ${showValue(e.data)})`;
    switch (e.keyword) {
      case 'minimum':
      case 'maximum':
        message = `must be ${node.type === 'integer' ? 'a whole number' : 'a number'} from ${node.minimum} to ${node.maximum}${got}`;
        break;
      case 'enum':
        message = node['x-hint'] ?? `must be one of ${(node.enum ?? []).map((v) => JSON.stringify(v)).join(', ')}${got}`;
        break;
      case 'uniqueItems':
        message = 'must not list the same item twice';
        break;
      case 'maxItems':
        message = `must have at most ${String((e.params as { limit: number }).limit)} items`;
        break;
      default:
        message = node['x-hint'] ?? (e.keyword === 'type' ? `must be ${typeWords(String((e.params as { type: string }).type))}${got}` : `${e.message ?? 'is not valid'}`);
    }
  }
  const path = dotted(segments);
  return { path, message, line: lineOf(opts, segments, keyLine), env: envByPath.get(path) };
}

function typeWords(type: string): string {
  switch (type) {
    case 'object': return 'a section (a mapping of keys)';
    case 'array': return 'a list, e.g. [a, b]';
    case 'integer': return 'a whole number';
    case 'boolean': return 'true or false';
    default: return `a ${type}`;
  }
}

function showValue(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function dotted(segments: string[]): string {
  return segments.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** 1-based line of a path in the YAML document (the key's line for unknown keys; else the value's, else its parent's). */
function lineOf(opts: FromObjectOptions, segments: string[], keyLine = false): number | undefined {
  const { doc, lineCounter } = opts;
  if (!doc || !lineCounter) return undefined;
  const keys = segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const at = (path: Array<string | number>): unknown => (path.length === 0 ? doc.contents : doc.getIn(path, true));
  let node: unknown;
  if (keyLine) {
    const parent = at(keys.slice(0, -1));
    if (isMap(parent)) node = parent.items.find((p) => isScalar(p.key) && p.key.value === keys[keys.length - 1])?.key;
  }
  node ??= at(keys);
  if (!isNode(node) && keys.length > 0) node = at(keys.slice(0, -1));
  if (!isNode(node) || !node.range) return undefined;
  return lineCounter.linePos(node.range[0]).line;
}

function uniqueProblem(): (p: ConfigProblem) => boolean {
  const seen = new Set<string>();
  return (p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  };
}

function configError(where: string, problems: ConfigProblem[]): GoipwatchError {
  const lines = problems.map((p) => {
    const origin = p.env ? ` (from ${p.env})` : p.line ? ` (line ${p.line})` : '';
    return `  ${p.path || '(document)'}${origin}: ${p.message}`;
  });
  const head = `config ${where}: ${problems.length === 1 ? '1 problem' : `${problems.length} problems`}`;
  return new GoipwatchError(ErrorCodes.Config, `${head}\n${lines.join('\n')}\n `, { file: where, problems });
}

async function readSecretFile(path: string, key: string, envByPath: Map<string, string>, problems: ConfigProblem[]): Promise<string | undefined> {
  try {
    const value = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    if (value === '') problems.push({ path: key, message: `${path} is empty`, env: envByPath.get(key) });
    return value;
  } catch (e) {
    // The error names the file and the errno, never its content.
    problems.push({ path: key, message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? describeError(e)})`, env: envByPath.get(key) });
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
