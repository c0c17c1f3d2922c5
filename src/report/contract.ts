/**
 * The MQTT contract (docs/mqtt.md): topic names, payload builders and their JSON Schemas. This is
 * the product's API for central monitoring, so every payload is checked against its own schema
 * before it is handed to the outbox; a payload that fails is a bug here, not bad input, and throws.
 *
 *   Finding / SimRecord / PortSurvey / health figures / event
 *        │  ReportContract.finding() … (identifiers hashed here when asked)
 *        ▼
 *   OutboxDraft {id, topic, payload (JSON), qos, retain, priority, expirySeconds}
 *        │  OutboxStore.enqueue ─► MqttReporter ─► <base>/<probe-id>/<topic>
 *
 * Every payload carries `"schema": "goipwatch/<topic>/1"`; a breaking change makes it /2.
 */
import { createHash, createHmac } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import type { BehaviourExplanation, EvidenceRef, EvidenceSource, Finding, SimRecord } from '../detect/model.js';
import type { ModemFinding, PortSurvey } from '../modems/types.js';
import type { OutboxMessage, ReportTopic } from '../store/outbox-types.js';
import { ErrorCodes, GoipwatchError } from '../errors.js';
import { toolVersion } from '../version.js';
import statusSchema from './schemas/status.v1.json' with { type: 'json' };
import heartbeatSchema from './schemas/heartbeat.v1.json' with { type: 'json' };
import findingsSchema from './schemas/findings.v3.json' with { type: 'json' };
import inventorySchema from './schemas/inventory.v2.json' with { type: 'json' };
import surveySchema from './schemas/survey.v1.json' with { type: 'json' };
import eventsSchema from './schemas/events.v1.json' with { type: 'json' };
import type { ClockState } from '../clock.js';

export const DEFAULT_BASE_TOPIC = 'goipwatch';
export const REPORT_TOPICS: readonly ReportTopic[] = ['status', 'heartbeat', 'findings', 'inventory', 'survey', 'events'];
/** Larger payloads are refused by the builders: a message must never be too big for a broker (mosquitto's default limit is far above). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** Outbox priorities (outbox-types.ts): lower is sent first and dropped last. */
export const PRIORITY: Record<ReportTopic, number> = { status: 0, findings: 0, inventory: 1, survey: 1, events: 2, heartbeat: 3 };

/**
 * Schema version per topic. A topic's version changes with any change to its payload (docs/mqtt.md
 * "Versioning"); findings is at 2 since the "sim-farm" kind and its "behaviour" explanation, at 3
 * since `sources` (what the refs' file indexes name: the probe's evidence files); inventory is at
 * 2 for the same `sources`.
 */
export const SCHEMA_VERSIONS: Readonly<Record<ReportTopic, number>> = { status: 1, heartbeat: 1, findings: 3, inventory: 2, survey: 1, events: 1 };

export function schemaId(topic: ReportTopic): string {
  return `goipwatch/${topic}/${SCHEMA_VERSIONS[topic]}`;
}

/** A payload failed its own schema: a bug in the builder or in a caller bypassing the types. */
export class ReportSchemaError extends Error {
  readonly code = 'GW_REPORT_SCHEMA';
  constructor(readonly topic: ReportTopic, readonly errors: string[]) {
    super(`payload for ${topic} fails ${schemaId(topic)}: ${errors.join('; ')} [GW_REPORT_SCHEMA]`);
    this.name = 'ReportSchemaError';
  }
}

const ajv = new Ajv({ strict: true, allErrors: true });
const validators: Record<ReportTopic, ValidateFunction> = {
  status: ajv.compile(statusSchema),
  heartbeat: ajv.compile(heartbeatSchema),
  findings: ajv.compile(findingsSchema),
  inventory: ajv.compile(inventorySchema),
  survey: ajv.compile(surveySchema),
  events: ajv.compile(eventsSchema),
};

/** The JSON Schema documents, by topic (for docs, `goipwatch monitor` and consumers' tests). */
export const SCHEMAS: Record<ReportTopic, object> = {
  status: statusSchema, heartbeat: heartbeatSchema, findings: findingsSchema,
  inventory: inventorySchema, survey: surveySchema, events: eventsSchema,
};

/** Throws ReportSchemaError unless `payload` is valid for `topic`. */
export function validatePayload(topic: ReportTopic, payload: unknown): void {
  const validate = validators[topic];
  if (validate(payload)) return;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
  throw new ReportSchemaError(topic, errors);
}

const PROBE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** `<base>/<probe-id>/<topic>`. The base may have several levels but no wildcards, no empty level, no leading `$`. */
export function topicName(baseTopic: string, probeId: string, topic: ReportTopic): string {
  checkBaseTopic(baseTopic);
  checkProbeId(probeId);
  return `${baseTopic}/${probeId}/${topic}`;
}

export function checkBaseTopic(base: string): void {
  const bad = base.length === 0 || base.length > 128 || /[+#\u0000]/.test(base) || base.startsWith('$') || base.split('/').some((l) => l === '');
  if (bad) throw new GoipwatchError(ErrorCodes.Config, `MQTT base topic ${JSON.stringify(base)} is not usable (no wildcards, no empty level, no leading $)`, { base });
}

export function checkProbeId(probeId: string): void {
  if (!PROBE_ID.test(probeId)) {
    throw new GoipwatchError(ErrorCodes.Config, `probe id ${JSON.stringify(probeId)} must be 1-64 of A-Z a-z 0-9 . _ -`, { probeId });
  }
}

/** Hex HMAC-SHA256 of an identifier under the operator's key: the same SIM gives the same hash on every probe with that key. */
export function hashIdentifier(key: string | Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** JSON with object keys sorted, so a content hash does not depend on property order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export type IdentifierMode = 'full' | 'hashed';

export interface ContractOptions {
  probeId: string;
  /** Default `goipwatch`. */
  baseTopic?: string;
  /** `hashed` replaces IMSI, ICCID and MSISDN by HMAC-SHA256 (and long digit runs in free text). Default `full`. */
  identifiers?: IdentifierMode;
  /** The HMAC key, required with `hashed` (at least 16 bytes). */
  identifierKey?: string | Buffer;
  /** goipwatch version in status and heartbeat (default: this build). */
  version?: string;
  /** Clock for `at` (ms since the epoch); tests pass a fixed one. */
  now?: () => number;
}

/** What the builders return: ready for OutboxStore.enqueue. */
export type OutboxDraft = Omit<OutboxMessage, 'createdAt'> & { createdAt: number };

export interface StatusPayload {
  schema: string;
  probe: string;
  state: 'online' | 'offline';
  reason?: 'connected' | 'shutdown' | 'connection-lost';
  since?: string;
  clientId?: string;
  version?: string;
}

/** Health figures of the probe (the daemon collects them; heartbeat.v1.json documents each). */
export interface HeartbeatFigures {
  uptimeSeconds: number;
  /** Seconds to the next heartbeat; the message expires after 3 intervals. */
  intervalSeconds: number;
  clock: { synced: boolean; source?: string };
  capture?: { interface?: string; packets: number; drops: number };
  modems: { portsUp: number; portsTotal: number };
  outbox: { pending: number; dropped: number };
  disk: { freeBytes: number; totalBytes?: number };
  memory?: { rssBytes: number };
  mqtt?: { reconnects: number; published: number };
}

export interface ProbeEvent {
  /** e.g. `modem-unplugged`, `capture-restarted`, `disk-low`. */
  kind: string;
  severity: 'info' | 'warning' | 'error';
  message: string;
  data?: Record<string, string | number | boolean>;
  /** Stable id when the caller has one (e.g. the same unplug seen twice); else derived from kind, time and content. */
  id?: string;
}

/** Long digit runs (IMSI 15, ICCID 19-20 with an optional F pad, MSISDN 10+, also IMEI) in free text. */
const DIGIT_RUN = /\+?\d{10,20}[Ff]?/g;

export class ReportContract {
  readonly probeId: string;
  readonly baseTopic: string;
  readonly identifiers: IdentifierMode;
  private readonly key: Buffer | undefined;
  private readonly version: string;
  private readonly now: () => number;

  constructor(opts: ContractOptions) {
    this.probeId = opts.probeId;
    this.baseTopic = opts.baseTopic ?? DEFAULT_BASE_TOPIC;
    checkProbeId(this.probeId);
    checkBaseTopic(this.baseTopic);
    this.identifiers = opts.identifiers ?? 'full';
    this.version = opts.version ?? toolVersion();
    this.now = opts.now ?? Date.now;
    if (this.identifiers === 'hashed') {
      const key = opts.identifierKey === undefined ? undefined : Buffer.from(opts.identifierKey);
      if (!key || key.length < 16) {
        throw new GoipwatchError(ErrorCodes.Config, 'identifiers "hashed" needs an identifier key of at least 16 bytes', {});
      }
      this.key = key;
    }
  }

  topic(topic: ReportTopic): string {
    return `${this.baseTopic}/${this.probeId}/${topic}`;
  }

  /** Retained availability; not an outbox message (the reporter publishes it on each connect, and as its will). */
  status(state: 'online' | 'offline', extra: Pick<StatusPayload, 'reason' | 'since' | 'clientId'> = {}): StatusPayload {
    const payload: StatusPayload = { schema: schemaId('status'), probe: this.probeId, state, ...extra, version: this.version };
    validatePayload('status', payload);
    return payload;
  }

  heartbeat(figures: HeartbeatFigures): OutboxDraft {
    const createdAt = this.now();
    const payload = { ...this.envelope('heartbeat', `heartbeat:${createdAt}`, createdAt), version: this.version, ...figures };
    return this.draft('heartbeat', payload, createdAt, Math.max(1, Math.ceil(figures.intervalSeconds * 3)));
  }

  /**
   * A capture finding; the id changes only when the finding's content does. `clock` says whether
   * its times were taken on a synchronised clock (src/clock.ts); `sources` names what its refs'
   * file indexes point at (the probe's evidence files, src/store/evidence-files.ts).
   */
  finding(f: Finding, clock?: ClockState, sources?: EvidenceSource[]): OutboxDraft {
    const finding = {
      id: f.id, kind: f.kind, device: f.device, family: f.family, confidence: f.confidence, score: f.score,
      categories: f.categories, firstSeen: f.firstSeen, lastSeen: f.lastSeen,
      evidence: f.evidence.map((e) => ({
        signature: e.signature, family: e.family, category: e.category, strength: e.strength, weight: e.weight,
        summary: this.scrub(e.summary), source: e.source, count: e.count, firstSeen: e.firstSeen, lastSeen: e.lastSeen,
        refs: e.refs.map((r) => ({ file: r.file, frames: r.frames })),
      })),
      ...(f.behaviour ? { behaviour: this.behaviour(f.behaviour) } : {}),
    };
    const src = sources?.length ? { sources } : {};
    return this.fact('findings', `finding:${f.id}`, { origin: 'capture', finding, ...(clock ? { clock } : {}), ...src }, clock || sources?.length ? { finding, clock, ...src } : finding);
  }

  /** A sim-farm finding's explanation; numbers of callers and callees go through scrub() like any free text. */
  private behaviour(b: BehaviourExplanation): Record<string, unknown> {
    const ref = (r: EvidenceRef) => ({ file: r.file, frames: r.frames });
    return {
      score: b.score, threshold: b.threshold, minFeatures: b.minFeatures,
      features: b.features.map((x) => ({ name: x.name, value: x.value, threshold: x.threshold, op: x.op, fired: x.fired, weight: x.weight,
        explain: this.scrub(x.explain), refs: x.refs.map(ref) })),
      counters: b.counters,
      calls: b.calls.map((c) => ({
        callId: c.callId, role: c.role, line: this.scrub(c.line), ...(c.caller !== undefined ? { caller: this.scrub(c.caller) } : {}),
        ...(c.callee !== undefined ? { callee: this.scrub(c.callee) } : {}), inviteTs: c.inviteTs, outcome: c.outcome,
        ...(c.durationMs !== undefined ? { durationMs: c.durationMs } : {}), ...(c.codec !== undefined ? { codec: c.codec } : {}), ref: ref(c.ref),
      })),
    };
  }

  /** A modem-bank finding (src/modems/findings.ts); its id is its kind and its ports. */
  modemFinding(f: ModemFinding): OutboxDraft {
    const stableId = `modem:${f.kind}:${shortHash([...f.ports].sort().join('\n'))}`;
    const finding = {
      id: stableId, kind: f.kind, summary: this.scrub(f.summary), ports: f.ports,
      ...(f.counts ? { counts: Object.fromEntries(Object.entries(f.counts).map(([k, v]) => [this.scrub(k), v])) } : {}),
      refs: f.refs.map((r) => ({ port: r.port, line: r.line })),
    };
    return this.fact('findings', `finding:${stableId}`, { origin: 'modems', finding }, finding);
  }

  /** One SIM of the inventory. */
  /** One SIM; `sources` names what its refs' file indexes point at (as for findings). */
  sim(s: SimRecord, sources?: EvidenceSource[]): OutboxDraft {
    const sim = {
      device: s.device, channel: s.channel,
      ...pick(s, ['imei', 'carrier', 'signalDbm', 'lac', 'cell', 'smsLogin', 'smbLogin']),
      ...this.identifiersOf(s),
      source: s.source, firstSeen: s.firstSeen, lastSeen: s.lastSeen,
      refs: s.refs.map((r) => ({ file: r.file, frames: r.frames })),
    };
    const src = sources?.length ? { sources } : {};
    return this.fact('inventory', `sim:${s.device}/${s.channel}`, { sim, ...src }, sources?.length ? { sim, ...src } : sim);
  }

  /** One surveyed modem port. */
  survey(s: PortSurvey): OutboxDraft {
    const survey = {
      port: s.port, driver: s.driver, answered: s.answered,
      ...pick(s, ['manufacturer', 'model', 'revision', 'imei', 'simState', 'operator', 'registration', 'signal']),
      ...this.identifiersOf(s),
      cells: s.cells, remoteSimMarkers: s.remoteSimMarkers,
      errors: s.errors.map((e) => ({ command: e.command, error: this.scrub(e.error) })),
      refs: s.refs, startedAt: s.startedAt, durationMs: s.durationMs,
    };
    return this.fact('survey', `survey:${s.port}`, { survey }, survey);
  }

  event(e: ProbeEvent): OutboxDraft {
    const createdAt = this.now();
    const event = {
      kind: e.kind, severity: e.severity, message: this.scrub(e.message),
      ...(e.data ? { data: Object.fromEntries(Object.entries(e.data).map(([k, v]) => [k, typeof v === 'string' ? this.scrub(v) : v])) } : {}),
    };
    const id = e.id ?? `event:${e.kind}:${createdAt}:${shortHash(canonicalJson(event))}`;
    return this.draft('events', { ...this.envelope('events', id, createdAt), event }, createdAt);
  }

  /** A fact whose id is `<prefix>@<hash of its content>`: resending the same state gives the same id. */
  private fact(topic: ReportTopic, prefix: string, body: Record<string, unknown>, content: unknown): OutboxDraft {
    const createdAt = this.now();
    const id = `${prefix}@${shortHash(canonicalJson(content))}`;
    const payload = { ...this.envelope(topic, id, createdAt), identifiers: this.identifiers, ...body };
    return this.draft(topic, payload, createdAt);
  }

  private envelope(topic: ReportTopic, id: string, createdAt: number): { schema: string; id: string; probe: string; at: string } {
    return { schema: schemaId(topic), id, probe: this.probeId, at: new Date(createdAt).toISOString() };
  }

  private draft(topic: ReportTopic, payload: { id: string } & Record<string, unknown>, createdAt: number, expirySeconds?: number): OutboxDraft {
    validatePayload(topic, payload);
    const text = JSON.stringify(payload);
    if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) throw new ReportSchemaError(topic, [`payload of ${Buffer.byteLength(text)} bytes exceeds ${MAX_PAYLOAD_BYTES}`]);
    return {
      id: payload.id, topic, payload: text, qos: 1, retain: false, priority: PRIORITY[topic], createdAt,
      ...(expirySeconds !== undefined ? { expirySeconds } : {}),
    };
  }

  private identifiersOf(s: { imsi?: string; iccid?: string; msisdn?: string }): Partial<Record<'imsi' | 'iccid' | 'msisdn', string>> {
    const out: Partial<Record<'imsi' | 'iccid' | 'msisdn', string>> = {};
    for (const k of ['imsi', 'iccid', 'msisdn'] as const) {
      const v = s[k];
      if (v !== undefined && v !== '') out[k] = this.key ? hashIdentifier(this.key, v) : v;
    }
    return out;
  }

  /** In hashed mode, replace long digit runs in free text by `#` + 12 hex of their HMAC (same run, same token). */
  private scrub(text: string): string {
    const key = this.key;
    if (!key) return text;
    return text.replace(DIGIT_RUN, (run) => `#${hashIdentifier(key, run.replace(/^\+/, '')).slice(0, 12)}`);
  }
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
