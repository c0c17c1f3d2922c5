/**
 * The MQTT reporter (DESIGN §5, docs/mqtt.md): drains the outbox to the broker, at least once.
 *
 *   OutboxStore.next(n) ──► publish QoS 1 (window of `window` unacked) ──► PUBACK ──► markSent(ids)
 *        ▲                                                       │ connection lost
 *        └──────────────────────── release(inflight ids) ◄───────┘
 *
 * Only the messages in flight are in memory; everything else stays in the outbox, so an outage of
 * days costs disk, not RAM. The library's own reconnect is off (reconnectPeriod 0): we reconnect
 * with a capped exponential backoff with jitter, so a hundred probes coming back after a broker
 * restart do not reconnect in step. The probe only dials out; it opens no listening port.
 *
 * Availability: after every CONNACK `<base>/<id>/status` is published retained "online"; the last
 * will is retained "offline" (reason connection-lost); stop() publishes "offline" (shutdown) and
 * sends DISCONNECT. We also subscribe to our own status topic: a stale will of an earlier
 * connection (a half-open socket the broker only notices at its keep-alive timeout) can land after
 * our "online", and we answer it with "online" again so the retained state stays true.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { inspect } from 'node:util';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { OutboxMessage, OutboxStore } from '../store/outbox-types.js';
import { describeError, ErrorCodes, GoipwatchError } from '../errors.js';
import { componentLogger } from '../log.js';
import { schemaId, type ReportContract } from './contract.js';

/** A password that cannot end up in a log line: it prints, inspects and serialises as [redacted]. */
export class Secret {
  readonly #value: string;
  constructor(value: string) { this.#value = value; }
  reveal(): string { return this.#value; }
  toString(): string { return '[redacted]'; }
  toJSON(): string { return '[redacted]'; }
  [inspect.custom](): string { return '[redacted]'; }
}

export interface MqttCredentials {
  username?: string;
  password?: Secret;
}

/**
 * Credentials from a file (line 1 user name, line 2 password; e.g. a systemd credential) or else
 * from GOIPWATCH_MQTT_USERNAME / GOIPWATCH_MQTT_PASSWORD. Never from the config file itself, never
 * logged. Undefined when neither is set (anonymous or certificate-only brokers).
 */
export async function loadMqttCredentials(opts: { file?: string; env?: NodeJS.ProcessEnv; logger?: Logger } = {}): Promise<MqttCredentials | undefined> {
  if (opts.file) {
    let text: string;
    try {
      const st = await stat(opts.file);
      if ((st.mode & 0o077) !== 0) (opts.logger ?? componentLogger('mqtt')).warn({ file: opts.file }, 'MQTT credentials file is readable by group or others (chmod 600)');
      text = await readFile(opts.file, 'utf8');
    } catch (e) {
      throw new GoipwatchError(ErrorCodes.Config, `MQTT credentials file ${opts.file} cannot be read: ${describeError(e)}`, { file: opts.file }, { cause: e });
    }
    const [username = '', password] = text.replace(/\r/g, '').split('\n');
    if (!username) throw new GoipwatchError(ErrorCodes.Config, `MQTT credentials file ${opts.file} has no user name on its first line`, { file: opts.file });
    return { username, ...(password ? { password: new Secret(password) } : {}) };
  }
  const env = opts.env ?? process.env;
  const username = env.GOIPWATCH_MQTT_USERNAME;
  const password = env.GOIPWATCH_MQTT_PASSWORD;
  if (!username && !password) return undefined;
  return { ...(username ? { username } : {}), ...(password ? { password: new Secret(password) } : {}) };
}

/** The URL without user info, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)[^/@]*@/i, '$1[redacted]@');
}

export interface BackoffOptions {
  initialMs?: number; // first retry delay, ms (default 1000)
  maxMs?: number; // cap, ms (default 60000)
}

/**
 * Delay before reconnect attempt `attempt` (0-based): "equal jitter", half of the capped
 * exponential step fixed and half random, so retries spread out but never come back at once.
 */
export function reconnectDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 1_000;
  const cap = opts.maxMs ?? 60_000;
  const step = Math.min(cap, initial * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

export interface MqttTlsOptions {
  /** PEM files, read at every connect (so a renewed certificate is picked up). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized?: boolean; // default true; false only for a lab broker
  servername?: string; // when the URL host is an IP but the certificate names a host
}

export interface MqttReporterOptions {
  /** mqtt://host:1883 or mqtts://host:8883; user info in the URL is refused (use credentials). */
  url: string;
  contract: ReportContract;
  outbox: OutboxStore;
  credentials?: MqttCredentials;
  tls?: MqttTlsOptions;
  backoff?: BackoffOptions;
  /**
   * 5 (default) for message expiry and user properties; 4 (MQTT 3.1.1) only for brokers without
   * MQTT 5, such as the embedded demo broker: the library then leaves the MQTT 5 properties out.
   */
  protocolVersion?: 4 | 5;
  /** Unacknowledged QoS 1 publishes at once (default 500, lowered to the broker's Receive Maximum). */
  window?: number;
  pollMs?: number; // outbox poll when idle, ms (default 500); notify() after enqueue sends at once
  keepaliveSeconds?: number; // default 30
  connectTimeoutMs?: number; // default 10000
  stableAfterMs?: number; // a connection shorter than this does not reset the backoff (default 30000)
  refusedPauseMs?: number; // pause after the broker refused a publish (PUBACK ≥ 0x80), default 30000
  logger?: Logger;
  random?: () => number;
}

export interface MqttReporterStats {
  connected: boolean;
  clientId: string;
  /** Acknowledged by the broker since start. */ published: number;
  /** Connections after the first one. */ reconnects: number;
  /** Consecutive failed attempts now. */ failedAttempts: number;
  inflight: number;
  /** Heartbeats expired in the outbox, not sent. */ expired: number;
  /** Publishes the broker refused (released, retried later). */ refused: number;
}

export class MqttReporter {
  readonly clientId: string;
  private readonly opts: MqttReporterOptions;
  private readonly log: Logger;
  private readonly random: () => number;
  private client: MqttClient | undefined;
  /** Bumped per connection: callbacks of an old connection are ignored. */
  private generation = 0;
  private connected = false;
  private connectedAt = 0;
  private stopping = false;
  private started = false;
  private window: number;
  private readonly inflight = new Set<string>();
  private acked: string[] = [];
  private flushScheduled = false;
  private pumping = false;
  private pausedUntil = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly counters = { published: 0, connections: 0, failedAttempts: 0, expired: 0, refused: 0 };

  constructor(opts: MqttReporterOptions) {
    if (/^[a-z+]+:\/\/[^/]*@/i.test(opts.url)) {
      throw new GoipwatchError(ErrorCodes.Config, `MQTT URL ${redactUrl(opts.url)} must not carry credentials; use a credentials file or the environment`);
    }
    this.opts = opts;
    this.random = opts.random ?? Math.random;
    this.clientId = `goipwatch-${opts.contract.probeId}-${randomBytes(4).toString('hex')}`;
    this.window = opts.window ?? 500;
    this.log = opts.logger ?? componentLogger('mqtt', { url: redactUrl(opts.url), clientId: this.clientId });
  }

  /** Start connecting; returns at once. A broker that is not there is retried with backoff, never thrown. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.connectOnce();
    this.pollTimer = setInterval(() => this.pump(), this.opts.pollMs ?? 500);
    this.pollTimer.unref();
  }

  /** Something was enqueued: drain now rather than at the next poll. */
  notify(): void { this.pump(); }

  stats(): MqttReporterStats {
    return {
      connected: this.connected, clientId: this.clientId, published: this.counters.published,
      reconnects: Math.max(0, this.counters.connections - 1), failedAttempts: this.counters.failedAttempts,
      inflight: this.inflight.size, expired: this.counters.expired, refused: this.counters.refused,
    };
  }

  isConnected(): boolean { return this.connected; }

  /**
   * Abandon the connection as a crash or a cut cable would (no DISCONNECT, so the broker publishes
   * the will), then reconnect with backoff. For tests and for a watchdog that finds the link stuck.
   */
  dropConnection(): void {
    const client = this.client;
    if (client) client.stream.destroy();
  }

  /** Publish "offline" (shutdown), wait for its PUBACK (at most timeoutMs), DISCONNECT; release what is in flight. */
  async stop(timeoutMs = 3_000): Promise<void> {
    this.stopping = true;
    this.started = false;
    clearTimeout(this.retryTimer);
    clearInterval(this.pollTimer);
    const client = this.client;
    this.flushAcks();
    if (client && this.connected) {
      const status = this.opts.contract.status('offline', { reason: 'shutdown', since: new Date().toISOString(), clientId: this.clientId });
      const sent = new Promise<void>((resolve) => {
        client.publish(this.opts.contract.topic('status'), JSON.stringify(status), { qos: 1, retain: true, properties: this.properties('status') }, (err) => {
          if (err) this.log.warn({ err: describeError(err) }, 'offline status not acknowledged before disconnect');
          resolve();
        });
      });
      await Promise.race([sent, delay(timeoutMs)]);
      this.flushAcks();
      this.abandon();
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    } else {
      this.abandon();
      if (client) client.end(true);
    }
    this.client = undefined;
  }

  private async clientOptions(): Promise<IClientOptions> {
    const { contract, credentials, tls } = this.opts;
    const will = contract.status('offline', { reason: 'connection-lost', clientId: this.clientId });
    const options: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: this.opts.protocolVersion ?? 5,
      clean: true,
      // Our backoff, not the library's fixed period (reconnect storms) — see connectOnce().
      reconnectPeriod: 0,
      connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
      keepalive: this.opts.keepaliveSeconds ?? 30,
      queueQoSZero: false,
      resubscribe: false,
      properties: { sessionExpiryInterval: 0 },
      will: {
        topic: contract.topic('status'), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true,
        properties: { contentType: 'application/json', payloadFormatIndicator: true, userProperties: this.userProps('status') },
      },
    };
    if (credentials?.username !== undefined) options.username = credentials.username;
    if (credentials?.password !== undefined) options.password = credentials.password.reveal();
    if (tls) {
      if (tls.caFile) options.ca = await readFile(tls.caFile);
      if (tls.certFile) options.cert = await readFile(tls.certFile);
      if (tls.keyFile) options.key = await readFile(tls.keyFile);
      options.rejectUnauthorized = tls.rejectUnauthorized ?? true;
      if (tls.servername) options.servername = tls.servername;
    }
    return options;
  }

  private connectOnce(): void {
    const generation = ++this.generation;
    this.clientOptions().then(
      (options) => {
        if (this.stopping || generation !== this.generation) return;
        const client = mqtt.connect(this.opts.url, options);
        this.client = client;
        client.on('connect', (connack) => this.onConnect(client, generation, connack));
        client.on('message', (topic, payload) => this.onOwnStatus(client, generation, topic, payload));
        client.on('error', (err) => this.onError(err));
        client.on('close', () => this.onClose(client, generation));
        client.on('disconnect', (packet) => this.log.warn({ reasonCode: packet.reasonCode }, 'broker sent DISCONNECT'));
      },
      (err: unknown) => {
        // TLS files unreadable: a config problem, but retried (they may appear once a volume mounts).
        this.onError(err);
        this.scheduleReconnect();
      },
    );
  }

  private onConnect(client: MqttClient, generation: number, connack: IConnackPacket): void {
    if (generation !== this.generation) return;
    const attempts = this.counters.failedAttempts;
    this.connected = true;
    this.connectedAt = Date.now();
    this.counters.connections++;
    const receiveMaximum = connack.properties?.receiveMaximum;
    this.window = Math.max(1, Math.min(this.opts.window ?? 500, receiveMaximum ?? Number.MAX_SAFE_INTEGER));
    this.log.info({ afterFailedAttempts: attempts, window: this.window }, 'connected to MQTT broker');
    const online = this.opts.contract.status('online', { reason: 'connected', since: new Date(this.connectedAt).toISOString(), clientId: this.clientId });
    client.publish(this.opts.contract.topic('status'), JSON.stringify(online), { qos: 1, retain: true, properties: this.properties('status') }, (err) => {
      if (err && generation === this.generation) this.log.warn({ err: describeError(err) }, 'online status not acknowledged');
    });
    client.subscribe(this.opts.contract.topic('status'), { qos: 1, nl: true }, (err) => {
      if (err && generation === this.generation) this.log.warn({ err: describeError(err) }, 'could not watch our own status topic');
    });
    this.pump();
  }

  /** A retained or late "offline" for this probe while we are connected is stale: say "online" again. */
  private onOwnStatus(client: MqttClient, generation: number, topic: string, payload: Buffer): void {
    if (generation !== this.generation || !this.connected || this.stopping || topic !== this.opts.contract.topic('status')) return;
    let state: unknown;
    try {
      state = (JSON.parse(payload.toString('utf8')) as { state?: unknown }).state;
    } catch (e) {
      this.log.debug({ err: describeError(e) }, 'unparsable payload on our status topic ignored');
      return;
    }
    if (state !== 'offline') return;
    this.log.info('stale offline status seen on our topic; publishing online again');
    const online = this.opts.contract.status('online', { reason: 'connected', since: new Date(this.connectedAt).toISOString(), clientId: this.clientId });
    client.publish(topic, JSON.stringify(online), { qos: 1, retain: true, properties: this.properties('status') });
  }

  private onError(err: unknown): void {
    const code = (err as { code?: unknown }).code;
    const hint = code === 'CERT_NOT_YET_VALID' || code === 'CERT_HAS_EXPIRED' ? 'check the clock (no RTC, NTP not synced yet?)' : undefined;
    const fields = { err: describeError(err), code, hint, attempt: this.counters.failedAttempts };
    // While stopping, the socket closing under a last write ("write after end") is expected.
    if (this.stopping) return void this.log.debug(fields, 'MQTT error while stopping');
    // The first failure loudly, the repeats quietly (a broker down for a day is not 10,000 warnings).
    if (this.counters.failedAttempts === 0) this.log.warn(fields, 'MQTT connection problem');
    else this.log.debug(fields, 'MQTT connection problem (repeat)');
  }

  private onClose(client: MqttClient, generation: number): void {
    if (generation !== this.generation) return;
    const wasConnected = this.connected;
    const lived = wasConnected ? Date.now() - this.connectedAt : 0;
    this.abandon();
    client.end(true);
    if (this.stopping) return;
    if (wasConnected) this.log.warn({ connectedMs: lived }, 'MQTT connection lost');
    if (lived >= (this.opts.stableAfterMs ?? 30_000)) this.counters.failedAttempts = 0;
    this.scheduleReconnect();
  }

  /** Forget the current connection: bump the generation, give what was in flight back to the outbox. */
  private abandon(): void {
    this.generation++;
    this.connected = false;
    this.flushAcks();
    if (this.inflight.size) this.opts.outbox.release([...this.inflight]);
    this.inflight.clear();
  }

  private scheduleReconnect(): void {
    if (this.stopping || !this.started) return;
    const wait = reconnectDelay(this.counters.failedAttempts, this.opts.backoff, this.random);
    this.counters.failedAttempts++;
    this.log.debug({ waitMs: wait, attempt: this.counters.failedAttempts }, 'reconnecting later');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connectOnce(), wait);
    this.retryTimer.unref();
  }

  /** Fill the window from the outbox. Re-entered from PUBACK callbacks, so guarded. */
  private pump(): void {
    const client = this.client;
    if (!client || !this.connected || this.stopping || this.pumping || Date.now() < this.pausedUntil) return;
    this.pumping = true;
    try {
      const generation = this.generation;
      while (this.inflight.size < this.window) {
        const batch = this.opts.outbox.next(Math.min(100, this.window - this.inflight.size));
        if (batch.length === 0) break;
        for (const m of batch) this.send(client, generation, m);
      }
    } finally {
      this.pumping = false;
    }
  }

  private send(client: MqttClient, generation: number, m: OutboxMessage): void {
    const properties = this.properties(m.topic, m.id);
    if (m.expirySeconds !== undefined) {
      const left = Math.floor(m.expirySeconds - (Date.now() - m.createdAt) / 1000);
      if (left <= 0) {
        // A stale heartbeat is worth nothing to the receiver: drop it here instead of sending it late.
        this.counters.expired++;
        this.opts.outbox.markSent([m.id]);
        return;
      }
      properties.messageExpiryInterval = left;
    }
    this.inflight.add(m.id);
    client.publish(this.opts.contract.topic(m.topic), m.payload, { qos: m.qos, retain: m.retain, properties }, (err) => {
      if (generation !== this.generation) return; // connection gone: abandon() released it already
      this.inflight.delete(m.id);
      if (err) {
        this.counters.refused++;
        this.pausedUntil = Date.now() + (this.opts.refusedPauseMs ?? 30_000);
        this.opts.outbox.release([m.id]);
        this.log.error({ err: describeError(err), id: m.id, topic: m.topic }, 'broker refused a publish; pausing the drain');
        return;
      }
      this.acked.push(m.id);
      this.scheduleAckFlush();
    });
  }

  /** PUBACKs are marked sent in batches (one outbox transaction per tick, not per message: SD card wear). */
  private scheduleAckFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushAcks();
      this.pump();
    });
  }

  private flushAcks(): void {
    if (this.acked.length === 0) return;
    const ids = this.acked;
    this.acked = [];
    this.opts.outbox.markSent(ids);
    this.counters.published += ids.length;
  }

  private userProps(topic: OutboxMessage['topic'], id?: string): Record<string, string> {
    return { schema: schemaId(topic), probe: this.opts.contract.probeId, ...(id ? { id } : {}) };
  }

  private properties(topic: OutboxMessage['topic'], id?: string): NonNullable<mqtt.IClientPublishOptions['properties']> {
    return { contentType: 'application/json', payloadFormatIndicator: true, userProperties: this.userProps(topic, id) };
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
