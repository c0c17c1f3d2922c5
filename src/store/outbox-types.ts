/**
 * The outbox contract between the store and the MQTT reporter (DESIGN §5): a message is committed
 * to SQLite before it is published, and marked sent only when the broker acknowledged it (PUBACK
 * for QoS 1). Every message has a stable id so receivers can de-duplicate (at-least-once).
 *
 *   detectors/bank ──► Outbox.enqueue (one transaction per batch) ──► SQLite
 *                                                                     │
 *   MqttReporter ◄── Outbox.next(limit) ── publish ── PUBACK ──► Outbox.markSent(ids)
 */

/** Topic suffixes under `<base>/<probe-id>/` (docs/mqtt.md). */
export type ReportTopic = 'status' | 'heartbeat' | 'findings' | 'inventory' | 'survey' | 'events';

export interface OutboxMessage {
  /** Stable id: the same fact gives the same id (e.g. finding id + revision), so a receiver can de-duplicate. */
  id: string;
  topic: ReportTopic;
  /** JSON text of the payload (already validated against its schema by the producer). */
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  /** Lower first: findings 0, inventory/survey 1, events 2, heartbeat 3 (retention drops the highest first). */
  priority: number;
  /** Monotonic-safe creation time, ms since the epoch as the probe's clock said (may be unsynchronised). */
  createdAt: number;
  /** MQTT 5 message expiry in seconds, when the payload goes stale (heartbeats). */
  expirySeconds?: number;
}

export interface OutboxStats {
  /** Unsent messages, inflight ones included. */
  pending: number;
  /** Of `pending`, how many next() handed out and are not yet acknowledged or released. */
  inflight?: number;
  sent: number;
  /** Messages dropped by retention (quota), by topic. */
  dropped: Record<string, number>;
}

export interface OutboxStore {
  /** Commit messages (one transaction); an id already present is updated, not repeated, while unsent. */
  enqueue(messages: Array<Omit<OutboxMessage, 'createdAt'> & { createdAt?: number }>): void;
  /** Oldest unsent first, lowest priority number first; at most `limit`. Never returns a message twice until `release`d or marked sent. */
  next(limit: number): OutboxMessage[];
  /** The broker acknowledged these. */
  markSent(ids: string[]): void;
  /** These were taken by next() but not acknowledged (connection lost): make them available again. */
  release(ids: string[]): void;
  stats(): OutboxStats;
}
