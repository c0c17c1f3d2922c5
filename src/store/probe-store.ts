/**
 * The probe daemon's store: one SQLite file it owns alone, opened once, written in batches.
 *
 *   ProbeStore.open ── corrupt? move aside, start empty ── migrate ── auto_vacuum=INCREMENTAL ── run row
 *   daemon ──► write({findings, surveys, sms, outbox}) — one transaction, fsync'd when it holds findings/messages
 *   reporter ◄─► outbox (next / markSent / release)
 *   timer ──► retain() — the size quota (retention.ts)
 *
 * Findings are upserted by their stable id (as replay-store does), so a finding seen again
 * refreshes its row. Evidence refs are kept as the detector gives them: a live probe has no
 * capture file list to resolve them against.
 */
import { findingWriter, type ClockNote } from './finding-rows.js';
import { existsSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { EvidenceSource, Finding } from '../detect/model.js';
import type { DumpedSms, PortSurvey } from '../modems/types.js';
import type { TranscriptEntry } from '../at/types.js';
import { serialiseTranscript } from '../at/transcript.js';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';
import { toolVersion } from '../version.js';
import { openDatabase } from './database.js';
import { EvidenceFiles, type EvidenceFilesOptions } from './evidence-files.js';
import { SqliteOutbox, durableCommit, type OutboxInput } from './outbox.js';
import { checkRetentionOptions, runRetention, storeSizeBytes, type RetentionOptions, type RetentionResult } from './retention.js';

type Db = Database.Database;

export interface ProbeStoreOptions {
  /** Bytes the database file plus its WAL may use (default 64 MiB, at least 64 KiB). */
  quotaBytes?: number;
  /** Fraction of the quota a retention pass shrinks to (default 0.8). */
  lowWater?: number;
  now?: () => number;
}

export interface ProbeBatch {
  findings?: Finding[];
  /** The clock note of each finding by id (kept in findings.clock). */
  findingClocks?: ReadonlyMap<string, ClockNote>;
  /** What each finding's refs index, by finding id (kept in findings.sources). */
  findingSources?: ReadonlyMap<string, EvidenceSource[]>;
  /** The transcript of each survey, by port (kept in modem_transcripts, linked from the survey row). */
  surveyTranscripts?: ReadonlyMap<string, readonly TranscriptEntry[]>;
  /** Transcripts of listening: one per opening of a port. */
  listenTranscripts?: ListenTranscript[];
  surveys?: PortSurvey[];
  sms?: DumpedSms[];
  /** Messages reporting this batch: committed in the same transaction as what they report. */
  outbox?: OutboxInput[];
}

export interface ListenTranscript {
  port: string;
  /** When the listen window began (ISO): with `session`, what an event's transcript line belongs to. */
  startedAt: string;
  session: number;
  entries: readonly TranscriptEntry[];
}

/** Set when the file on disk was corrupt at open and was moved aside for a fresh one. */
export interface RecoveredStore {
  movedTo: string;
  problem: string;
}

export const defaultQuotaBytes = 64 * 1024 * 1024;

export class ProbeStore {
  readonly outbox: SqliteOutbox;
  private closed = false;
  private readonly retention: RetentionOptions;
  private readonly statements: ReturnType<typeof prepare>;

  private constructor(
    readonly path: string,
    private readonly db: Db,
    /** The `runs` row of this daemon start; findings and surveys point at it. */
    readonly runId: number,
    readonly recovered: RecoveredStore | undefined,
    options: ProbeStoreOptions,
  ) {
    this.retention = { quotaBytes: options.quotaBytes ?? defaultQuotaBytes, lowWater: options.lowWater ?? 0.8, ...(options.now ? { now: options.now } : {}) };
    this.outbox = new SqliteOutbox(db, options.now ? { now: options.now } : {});
    this.statements = prepare(db);
  }

  static open(path: string, options: ProbeStoreOptions = {}): ProbeStore {
    const quotaBytes = options.quotaBytes ?? defaultQuotaBytes;
    checkRetentionOptions({ quotaBytes, ...(options.lowWater !== undefined ? { lowWater: options.lowWater } : {}) });
    const recovered = setAsideIfCorrupt(path);
    const db = openDatabase(path);
    try {
      prepareForProbe(db, quotaBytes);
      const startedAt = new Date((options.now ?? Date.now)()).toISOString();
      const runId = Number(db.prepare(`INSERT INTO runs (started_at, finished_at, tool_version, kind, partial) VALUES (?, ?, ?, 'probe', 0)`)
        .run(startedAt, startedAt, toolVersion()).lastInsertRowid);
      return new ProbeStore(path, db, runId, recovered, options);
    } catch (e) {
      db.close();
      if (e instanceof GoipwatchError) throw e;
      throw new GoipwatchError(ErrorCodes.Store, `cannot prepare probe store ${path}: ${describeError(e)}`, { path });
    }
  }

  /** One transaction for the whole batch (SD-card wear: one commit, not one per row). */
  write(batch: ProbeBatch): void {
    const s = this.statements;
    const run = this.runId;
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    const body = () => {
      for (const f of batch.findings ?? []) s.findings.write(f, run, batch.findingClocks?.get(f.id), batch.findingSources?.get(f.id));
      const transcript = (port: string, kind: 'survey' | 'listen', startedAt: string, session: number, entries: readonly TranscriptEntry[]): number => {
        const text = serialiseTranscript(entries, port);
        return Number(s.transcript.run(run, port, kind, startedAt, session, entries.length, createHash('sha256').update(text).digest('hex'), text).lastInsertRowid);
      };
      for (const v of batch.surveys ?? []) {
        const entries = batch.surveyTranscripts?.get(v.port);
        const transcriptId = entries ? transcript(v.port, 'survey', v.startedAt, 1, entries) : null;
        s.survey.run(run, v.port, v.driver, v.answered ? 1 : 0, v.manufacturer ?? null, v.model ?? null, v.revision ?? null, v.imei ?? null,
          v.simState ?? null, v.imsi ?? null, v.iccid ?? null, v.msisdn ?? null, json(v.operator), json(v.registration), json(v.signal),
          JSON.stringify(v.cells), JSON.stringify(v.errors), JSON.stringify(v.refs), v.startedAt, transcriptId);
      }
      for (const t of batch.listenTranscripts ?? []) transcript(t.port, 'listen', t.startedAt, t.session, t.entries);
      for (const m of batch.sms ?? []) {
        // Same key as modem-store, so a message read again by the probe is not repeated.
        const id = createHash('sha256').update([m.port, m.sender, m.text, m.timestamp ?? ''].join('\u0000')).digest('hex').slice(0, 24);
        s.sms.run(id, m.port, m.sender, m.text, m.timestamp ?? null, m.status, m.ref.line, run);
      }
      if (batch.outbox?.length) this.outbox.enqueueInTransaction(batch.outbox);
    };
    // Findings and outbox messages must survive a power cut once committed: FULL for those commits.
    try {
      if ((batch.findings?.length ?? 0) + (batch.outbox?.length ?? 0) > 0) durableCommit(this.db, body);
      else this.db.transaction(body)();
    } catch (e) {
      // The whole batch rolled back; the caller keeps it and decides (retry after retain(), log).
      throw new GoipwatchError(ErrorCodes.Store, `cannot write batch to ${this.path}: ${describeError(e)}`, { path: this.path }, { cause: e });
    }
  }

  /** The evidence files of this run (the frames behind live findings), recorded in this store. */
  evidenceFiles(opts: Omit<EvidenceFilesOptions, 'runId'>): EvidenceFiles {
    return new EvidenceFiles(this.db, { ...opts, runId: this.runId });
  }

  /** Database file plus WAL, bytes. */
  sizeBytes(): number {
    return storeSizeBytes(this.path);
  }

  /** Runs a retention pass when the store is over its quota (cheap when it is not: two stat calls). */
  retain(): RetentionResult {
    return runRetention(this.db, this.path, this.retention);
  }

  /** Everything retention ever dropped, from retention_log: key `table` or `table/topic`. */
  droppedCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    const rows = this.db.prepare('SELECT tbl, topic, dropped FROM retention_log').all() as Array<{ tbl: string; topic: string; dropped: number }>;
    for (const r of rows) out[r.topic ? `${r.tbl}/${r.topic}` : r.tbl] = r.dropped;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.prepare('UPDATE runs SET finished_at = ? WHERE id = ?').run(new Date().toISOString(), this.runId);
    } finally {
      this.db.close();
    }
  }
}

function prepare(db: Db) {
  return {
    findings: findingWriter(db, (refs) => JSON.stringify(refs)),
    survey: db.prepare(`INSERT INTO modem_surveys (run_id, port, driver, answered, manufacturer, model, revision, imei, sim_state, imsi, iccid, msisdn,
      operator, registration, signal, cells, errors, refs, started_at, transcript_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    transcript: db.prepare(`INSERT INTO modem_transcripts (run_id, port, kind, started_at, session, entries, sha256, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    sms: db.prepare(`INSERT INTO modem_sms (id, port, sender, text, timestamp, status, transcript_line, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO NOTHING`),
  };
}

/**
 * Once per database: auto_vacuum=INCREMENTAL so retention can hand pages back without rewriting
 * the whole file. openDatabase creates the tables before we could set it, and the mode of an
 * existing database only changes with a VACUUM, so the first open pays one VACUUM (on an empty
 * store: milliseconds). The WAL is kept small relative to the quota: checkpoints every
 * ~quota/8 bytes and a file cut back to that size after each one.
 */
function prepareForProbe(db: Db, quotaBytes: number): void {
  if ((db.pragma('auto_vacuum', { simple: true }) as number) !== 2) {
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
  }
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const walBytes = Math.floor(quotaBytes / 8);
  db.pragma(`wal_autocheckpoint = ${Math.max(16, Math.min(1000, Math.floor(walBytes / pageSize)))}`);
  db.pragma(`journal_size_limit = ${walBytes}`);
}

/**
 * Power loss on a cheap SD card can leave a database SQLite refuses. An unattended probe must
 * come back anyway: the corrupt file (and its WAL) is renamed to `<path>.corrupt-<time>` for
 * later inspection and the probe starts with an empty store. Only corruption does this; any
 * other error (permissions, disk full) is thrown as it is.
 */
function setAsideIfCorrupt(path: string): RecoveredStore | undefined {
  if (!existsSync(path)) return undefined;
  let problem: string | undefined;
  let db: Db | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    if (rows.length !== 1 || rows[0]?.quick_check !== 'ok') problem = rows.map((r) => r.quick_check).slice(0, 5).join('; ');
  } catch (e) {
    if (!(e instanceof Database.SqliteError) || !['SQLITE_CORRUPT', 'SQLITE_NOTADB'].includes(e.code)) {
      throw new GoipwatchError(ErrorCodes.Store, `cannot check database ${path}: ${describeError(e)}`, { path });
    }
    problem = `${e.code}: ${e.message}`;
  } finally {
    db?.close();
  }
  if (problem === undefined) return undefined;
  const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, movedTo);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
  }
  return { movedTo, problem };
}
