/**
 * The outbox in SQLite (schema v3; contract in outbox-types.ts). A message is committed before the
 * reporter ever sees it, handed out once by next(), and becomes `sent` only on PUBACK:
 *
 *   enqueue ──► pending ──next()──► inflight ──markSent()──► sent ──(retention)──► gone
 *                  ▲                    │
 *                  └──── release() ─────┘   (and on open: a crash left it inflight)
 *
 * Delivery is at-least-once: a crash between PUBACK and markSent's commit publishes the message
 * again after restart, and receivers de-duplicate by the stable id.
 *
 * Durability: the store runs WAL with synchronous=NORMAL, where a commit survives a process crash
 * but the last commits may roll back on power loss (never corruption). Enqueue commits run with
 * synchronous=FULL (one fsync of the WAL per commit) because that is the moment a finding must not
 * be lost before it was published; markSent/release/next stay NORMAL because losing them on power
 * loss only means a message is published once more.
 */
import type Database from 'better-sqlite3';
import type { OutboxMessage, OutboxStats, OutboxStore, ReportTopic } from './outbox-types.js';

type Db = Database.Database;

export type OutboxInput = Omit<OutboxMessage, 'createdAt'> & { createdAt?: number };

/** How the outbox orders work: lowest priority number first, then oldest (creation, then enqueue order). */
const queueOrder = 'priority, created_at, seq';

interface OutboxRow {
  seq: number;
  id: string;
  topic: string;
  payload: string;
  qos: number;
  retain: number;
  priority: number;
  created_at: number;
  expiry_seconds: number | null;
}

/**
 * Runs `fn` in one transaction committed with synchronous=FULL, then returns to NORMAL. The
 * pragma cannot change inside a transaction, so when the caller already holds one the outer
 * commit decides (the caller is expected to use durableCommit itself, as ProbeStore.write does).
 */
export function durableCommit<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return db.transaction(fn)();
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}

export class SqliteOutbox implements OutboxStore {
  private readonly db: Db;
  private readonly upsert: Database.Statement;
  private readonly take: Database.Statement;
  private readonly sent: Database.Statement;
  private readonly back: Database.Statement;
  private readonly now: () => number;

  /**
   * Expects a database opened by openDatabase (schema ≥ v3) and owned by this process alone: rows
   * still `inflight` can only be left over from a crashed run, so they go back to `pending`.
   */
  constructor(db: Db, options: { now?: () => number } = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    // Same id while unsent: refresh the content in place (keeps its queue position). Same id
    // already sent: the receivers have that fact under that id and would discard a second copy,
    // so nothing changes. An inflight row keeps its state for the same reason.
    this.upsert = db.prepare(`INSERT INTO outbox (id, topic, payload, qos, retain, priority, created_at, expiry_seconds)
      VALUES (@id, @topic, @payload, @qos, @retain, @priority, @createdAt, @expiry)
      ON CONFLICT(id) DO UPDATE SET topic = excluded.topic, payload = excluded.payload, qos = excluded.qos, retain = excluded.retain,
        priority = excluded.priority, expiry_seconds = excluded.expiry_seconds
      WHERE state != 'sent'`);
    this.take = db.prepare(`UPDATE outbox SET state = 'inflight'
      WHERE seq IN (SELECT seq FROM outbox WHERE state = 'pending' ORDER BY ${queueOrder} LIMIT ?)
      RETURNING seq, id, topic, payload, qos, retain, priority, created_at, expiry_seconds`);
    this.sent = db.prepare(`UPDATE outbox SET state = 'sent', sent_at = ? WHERE id = ? AND state != 'sent'`);
    this.back = db.prepare(`UPDATE outbox SET state = 'pending' WHERE id = ? AND state = 'inflight'`);
    this.releaseAll();
  }

  enqueue(messages: OutboxInput[]): void {
    if (messages.length === 0) return;
    durableCommit(this.db, () => this.enqueueInTransaction(messages));
  }

  /** For ProbeStore.write, which commits messages together with the findings they report. */
  enqueueInTransaction(messages: OutboxInput[]): void {
    const now = this.now();
    for (const m of messages) {
      this.upsert.run({
        id: m.id, topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain ? 1 : 0, priority: m.priority,
        createdAt: m.createdAt ?? now, expiry: m.expirySeconds ?? null,
      });
    }
  }

  next(limit: number): OutboxMessage[] {
    if (!Number.isInteger(limit) || limit <= 0) return [];
    // UPDATE … RETURNING gives rows in no promised order, so sort as the queue does.
    const rows = this.db.transaction(() => this.take.all(limit) as OutboxRow[])();
    rows.sort((a, b) => a.priority - b.priority || a.created_at - b.created_at || a.seq - b.seq);
    return rows.map(toMessage);
  }

  markSent(ids: string[]): void {
    if (ids.length === 0) return;
    const at = this.now();
    // Any unsent state: a PUBACK that arrives after release() still means the broker has it.
    this.db.transaction(() => {
      for (const id of ids) this.sent.run(at, id);
    })();
  }

  release(ids: string[]): void {
    if (ids.length === 0) return;
    this.db.transaction(() => {
      for (const id of ids) this.back.run(id);
    })();
  }

  /** Everything inflight back to pending: the connection was lost, or (on open) the process was. */
  releaseAll(): number {
    return this.db.prepare(`UPDATE outbox SET state = 'pending' WHERE state = 'inflight'`).run().changes;
  }

  /** `pending` counts every unsent message (queued or inflight); `inflight` says how many of them are out. */
  stats(): OutboxStats {
    const counts = this.db.prepare('SELECT state, count(*) AS n FROM outbox GROUP BY state').all() as Array<{ state: string; n: number }>;
    const by = (s: string) => counts.find((c) => c.state === s)?.n ?? 0;
    // Only unsent messages count as dropped; sent rows removed by retention were delivered.
    const dropped: Record<string, number> = {};
    const log = this.db.prepare(`SELECT topic, dropped FROM retention_log WHERE tbl = 'outbox'`).all() as Array<{ topic: string; dropped: number }>;
    for (const r of log) dropped[r.topic] = r.dropped;
    return { pending: by('pending') + by('inflight'), inflight: by('inflight'), sent: by('sent'), dropped };
  }
}

function toMessage(r: OutboxRow): OutboxMessage {
  const m: OutboxMessage = {
    id: r.id, topic: r.topic as ReportTopic, payload: r.payload, qos: r.qos === 1 ? 1 : 0, retain: r.retain === 1,
    priority: r.priority, createdAt: r.created_at,
  };
  if (r.expiry_seconds !== null) m.expirySeconds = r.expiry_seconds;
  return m;
}
