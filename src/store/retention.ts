/**
 * The size quota of the probe's store (DESIGN §5): when the database file plus its WAL pass the
 * quota, drop the least important data first, count what was dropped, and give the space back
 * to the file system.
 *
 *   over quota? ─no─► done
 *       │yes
 *   checkpoint(TRUNCATE) ─► while live pages > lowWater × quota: delete the oldest chunk of the
 *   current step (and count it, same transaction) ─► incremental_vacuum ─► checkpoint(TRUNCATE)
 *
 * Order, least important first: outbox rows already sent; unsent heartbeats (priority ≥ 3); unsent
 * events (priority 2); SMS read over AT; modem surveys; unsent inventory/survey messages
 * (priority 1). Never touched: unsent findings messages (topic `findings` or priority 0), inflight
 * messages (the reporter holds them), and the findings, evidence, devices, runs, sims tables.
 *
 * Each chunk is its own transaction with its count, so a crash mid-pass leaves a consistent
 * database whose counters match what is gone. Sizes are judged on live pages
 * ((page_count − freelist_count) × page_size), since in WAL mode the file only shrinks at the
 * checkpoint after the vacuum.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { ErrorCodes, GoipwatchError } from '../errors.js';

type Db = Database.Database;

export interface RetentionOptions {
  /** Bytes the database file plus its WAL may use; ≥ 64 KiB. */
  quotaBytes: number;
  /** Fraction of the quota a pass shrinks to (0.1–0.95, default 0.8), so that passes do not run back to back. */
  lowWater?: number;
  /** Rows deleted per transaction (default 256): bounds the WAL a pass writes before it re-measures. */
  chunkRows?: number;
  now?: () => number;
}

export interface RetentionResult {
  /** False when the quota was not exceeded and nothing was done. */
  ran: boolean;
  beforeBytes: number;
  afterBytes: number;
  quotaBytes: number;
  /** Rows dropped by this pass: key `table` or `table/topic` (outbox rows). */
  dropped: Record<string, number>;
  /** False when everything droppable is gone and the store is still over the quota (findings alone fill it). */
  underQuota: boolean;
}

interface RetentionStep {
  /** Name in retention_log: `outbox_sent` for delivered messages, `outbox` for unsent ones, else the table. */
  log: string;
  table: string;
  where: string;
  order: string;
  /** Column kept per dropped row, for per-topic counts. */
  topic?: string;
}

const neverFindings = `topic != 'findings' AND priority > 0`;

export const retentionSteps: readonly RetentionStep[] = [
  { log: 'outbox_sent', table: 'outbox', where: `state = 'sent'`, order: 'sent_at, seq', topic: 'topic' },
  { log: 'outbox', table: 'outbox', where: `state = 'pending' AND priority >= 3 AND ${neverFindings}`, order: 'created_at, seq', topic: 'topic' },
  { log: 'outbox', table: 'outbox', where: `state = 'pending' AND priority = 2 AND ${neverFindings}`, order: 'created_at, seq', topic: 'topic' },
  { log: 'modem_sms', table: 'modem_sms', where: '1', order: 'rowid' },
  { log: 'modem_transcripts', table: 'modem_transcripts', where: '1', order: 'id' },
  { log: 'modem_surveys', table: 'modem_surveys', where: '1', order: 'id' },
  { log: 'outbox', table: 'outbox', where: `state = 'pending' AND priority = 1 AND ${neverFindings}`, order: 'created_at, seq', topic: 'topic' },
];

/** Bytes on disk: the database file and its WAL (the -shm index is a few KiB and not counted). */
export function storeSizeBytes(path: string): number {
  return fileSize(path) + fileSize(`${path}-wal`);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (e) {
    // A missing WAL is normal (after a TRUNCATE checkpoint, or before the first write).
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new GoipwatchError(ErrorCodes.Store, `cannot stat ${path}: ${(e as Error).message}`, { path });
  }
}

export function checkRetentionOptions(o: RetentionOptions): void {
  if (!Number.isFinite(o.quotaBytes) || o.quotaBytes < 65_536) {
    throw new GoipwatchError(ErrorCodes.Config, `store quota must be at least 65536 bytes, got ${o.quotaBytes}`, { quotaBytes: o.quotaBytes });
  }
  if (o.lowWater !== undefined && !(o.lowWater >= 0.1 && o.lowWater <= 0.95)) {
    throw new GoipwatchError(ErrorCodes.Config, `store low-water fraction must be within 0.1–0.95, got ${o.lowWater}`, { lowWater: o.lowWater });
  }
  if (o.chunkRows !== undefined && !(Number.isInteger(o.chunkRows) && o.chunkRows > 0)) {
    throw new GoipwatchError(ErrorCodes.Config, `retention chunk must be a positive integer, got ${o.chunkRows}`, { chunkRows: o.chunkRows });
  }
}

/** Bytes the live pages take, whatever the file size (free pages excluded). */
export function liveBytes(db: Db): number {
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const size = db.pragma('page_size', { simple: true }) as number;
  return (pages - free) * size;
}

/** One retention pass over the store at `path`, opened as `db` by this process. */
export function runRetention(db: Db, path: string, options: RetentionOptions): RetentionResult {
  checkRetentionOptions(options);
  const quota = options.quotaBytes;
  const target = quota * (options.lowWater ?? 0.8);
  const chunk = options.chunkRows ?? 256;
  const now = options.now ?? Date.now;
  const beforeBytes = storeSizeBytes(path);
  const dropped: Record<string, number> = {};
  if (beforeBytes <= quota) return { ran: false, beforeBytes, afterBytes: beforeBytes, quotaBytes: quota, dropped, underQuota: true };

  // The WAL may be most of the excess; copying it back costs nothing the next checkpoint would not.
  checkpoint(db);
  const count = db.prepare(`INSERT INTO retention_log (tbl, topic, dropped, last_at) VALUES (?, ?, ?, ?)
    ON CONFLICT(tbl, topic) DO UPDATE SET dropped = dropped + excluded.dropped, last_at = excluded.last_at`);

  for (const step of retentionSteps) {
    if (liveBytes(db) <= target) break;
    const del = db.prepare(`DELETE FROM ${step.table} WHERE rowid IN
      (SELECT rowid FROM ${step.table} WHERE ${step.where} ORDER BY ${step.order} LIMIT ?)
      RETURNING ${step.topic ?? `''`} AS topic`);
    const dropChunk = db.transaction((): number => {
      const rows = del.all(chunk) as Array<{ topic: string }>;
      const byTopic = new Map<string, number>();
      for (const r of rows) byTopic.set(r.topic, (byTopic.get(r.topic) ?? 0) + 1);
      const at = now();
      for (const [topic, n] of byTopic) {
        count.run(step.log, topic, n, at);
        const key = topic ? `${step.log}/${topic}` : step.log;
        dropped[key] = (dropped[key] ?? 0) + n;
      }
      return rows.length;
    });
    while (liveBytes(db) > target) {
      if (dropChunk() < chunk) break;
    }
  }

  shrink(db);
  const afterBytes = storeSizeBytes(path);
  return { ran: true, beforeBytes, afterBytes, quotaBytes: quota, dropped, underQuota: afterBytes <= quota };
}

/**
 * Gives free pages back to the file system. With auto_vacuum=INCREMENTAL (ProbeStore converts
 * the database once on open) that is incremental_vacuum, which moves only the tail pages; without
 * it, a full VACUUM rewrites the file (needs as much free disk again, so it is the fallback).
 */
function shrink(db: Db): void {
  if ((db.pragma('freelist_count', { simple: true }) as number) > 0) {
    if ((db.pragma('auto_vacuum', { simple: true }) as number) === 2) db.pragma('incremental_vacuum');
    else db.exec('VACUUM');
  }
  checkpoint(db);
}

/**
 * Copies the WAL into the database and truncates it to zero bytes. Another connection reading
 * (a `sqlite3` shell, `goipwatch doctor`) blocks the truncation; that is not an error, the WAL
 * only stays until the next pass, so it returns false instead of throwing.
 */
export function checkpoint(db: Db): boolean {
  const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
  return r !== undefined && r.busy === 0;
}
