/**
 * The central-side view (`goipwatch monitor`): what many probes report, de-duplicated.
 *
 *   broker ──$share/<group>/<base>/+/<topic>──► ProbeMonitor.handle(topic, payload)
 *     status (retained, not shared: every monitor needs it) ─► probes online/offline
 *     heartbeat ─► last seen, health;  findings/inventory/survey/events ─► de-dup by (probe, id)
 *
 * Several monitors in one shared-subscription group split the messages (MQTT 5 §4.8.2); the
 * retained status topic is subscribed normally so each monitor knows every probe. Payloads are
 * untrusted: a message that is not JSON or lacks `schema`/`probe` is counted and skipped.
 */
import mqtt from 'mqtt';
import { componentLogger } from '../log.js';
import { describeError } from '../errors.js';

export interface ProbeView {
  probe: string;
  state: 'online' | 'offline' | 'unknown';
  lastHeartbeat?: string;
  health?: Record<string, unknown>;
  findings: number;
  lastMessageAt: string;
}

export type MonitorEvent =
  | { type: 'status'; probe: string; state: string; at: string }
  | { type: 'message'; topic: string; probe: string; schema: string; id?: string; payload: Record<string, unknown> };

export class ProbeMonitor {
  readonly probes = new Map<string, ProbeView>();
  readonly seen = new Set<string>();
  duplicates = 0;
  malformed = 0;
  private static readonly maxSeen = 100_000;

  /** One incoming message; returns the event to show, or undefined for a duplicate / malformed one. */
  handle(topic: string, payload: Buffer): MonitorEvent | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      this.malformed++;
      return undefined;
    }
    if (doc === null || typeof doc !== 'object') {
      this.malformed++;
      return undefined;
    }
    const p = doc as Record<string, unknown>;
    const probe = typeof p.probe === 'string' ? p.probe : undefined;
    const schema = typeof p.schema === 'string' ? p.schema : undefined;
    if (!probe || !schema) {
      this.malformed++;
      return undefined;
    }
    const now = new Date().toISOString();
    const view = this.probes.get(probe) ?? { probe, state: 'unknown' as const, findings: 0, lastMessageAt: now };
    view.lastMessageAt = now;
    this.probes.set(probe, view);
    const kind = topic.split('/').pop() ?? '';
    if (kind === 'status') {
      view.state = p.state === 'online' ? 'online' : 'offline';
      return { type: 'status', probe, state: view.state, at: now };
    }
    const id = typeof p.id === 'string' ? p.id : undefined;
    if (id) {
      const key = `${probe}\u0000${id}`;
      if (this.seen.has(key)) {
        this.duplicates++;
        return undefined;
      }
      if (this.seen.size >= ProbeMonitor.maxSeen) this.seen.clear();
      this.seen.add(key);
    }
    if (kind === 'heartbeat') {
      view.lastHeartbeat = typeof p.at === 'string' ? p.at : now;
      view.health = p;
    }
    if (kind === 'findings') view.findings++;
    return { type: 'message', topic, probe, schema, id, payload: p };
  }
}

export interface MonitorOptions {
  url: string;
  baseTopic?: string;
  /** Shared-subscription group; false subscribes plainly (brokers without MQTT 5, one monitor). */
  group?: string | false;
  /** 5 (default); 4 for brokers without MQTT 5 (the embedded demo broker). */
  protocolVersion?: 4 | 5;
  onEvent: (e: MonitorEvent, monitor: ProbeMonitor) => void;
}

/** Connect and subscribe; resolves to a stop function. */
export async function startMonitor(opts: MonitorOptions): Promise<{ monitor: ProbeMonitor; stop: () => Promise<void> }> {
  const log = componentLogger('monitor');
  const base = opts.baseTopic ?? 'goipwatch';
  const group = opts.group ?? 'goipwatch-monitor';
  const version = opts.protocolVersion ?? 5;
  const monitor = new ProbeMonitor();
  const client = await mqtt.connectAsync(opts.url, { protocolVersion: version, reconnectPeriod: 2000, clientId: `goipwatch-monitor-${process.pid}-${Math.random().toString(16).slice(2, 8)}` });
  client.on('message', (topic, payload) => {
    const e = monitor.handle(topic, payload);
    if (e) opts.onEvent(e, monitor);
  });
  client.on('error', (e) => log.warn({ err: describeError(e) }, 'MQTT error'));
  await client.subscribeAsync([`${base}/+/status`], { qos: 1 });
  const shared = group !== false && version === 5;
  await client.subscribeAsync(['heartbeat', 'findings', 'inventory', 'survey', 'events'].map((t) => (shared ? `$share/${group}/${base}/+/${t}` : `${base}/+/${t}`)), { qos: 1 });
  return { monitor, stop: async () => { await client.endAsync(); } };
}
