/**
 * The SQLite store (better-sqlite3). WAL, schema version in `user_version`, forward-only
 * migrations, and one transaction per batch of writes (an SD card wears with every fsync).
 *
 * Schema v1 keeps what a replay produces: runs, their inputs (path + SHA-256), devices, findings
 * with their evidence (and the frames it points at), SIMs and SMS. v2 adds the modem side:
 * surveys per port, SMS read over AT, modem findings. v3 adds the probe's outbox and the
 * retention log (counts of what the size quota dropped).
 */
import Database from 'better-sqlite3';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';

export type Db = Database.Database;

const migrations: Array<(db: Db) => void> = [
  // v1: replay results
  (db) => {
    db.exec(`
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        kind TEXT NOT NULL,
        partial INTEGER NOT NULL
      );
      CREATE TABLE inputs (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        idx INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        format TEXT NOT NULL,
        link_type TEXT NOT NULL,
        frames INTEGER NOT NULL,
        status TEXT NOT NULL,
        problem TEXT,
        PRIMARY KEY (run_id, idx)
      );
      CREATE TABLE devices (
        key TEXT PRIMARY KEY,
        macs TEXT NOT NULL,
        ips TEXT NOT NULL,
        vendor TEXT,
        facts TEXT NOT NULL,
        first_seen REAL,
        last_seen REAL
      );
      CREATE TABLE findings (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        family TEXT NOT NULL,
        confidence TEXT NOT NULL,
        score REAL NOT NULL,
        categories TEXT NOT NULL,
        first_seen REAL,
        last_seen REAL,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        updated_runs INTEGER NOT NULL DEFAULT 1
      );
      CREATE TABLE evidence (
        finding_id TEXT NOT NULL REFERENCES findings(id),
        signature TEXT NOT NULL,
        family TEXT NOT NULL,
        category TEXT NOT NULL,
        strength TEXT NOT NULL,
        weight REAL NOT NULL,
        summary TEXT NOT NULL,
        source TEXT NOT NULL,
        count INTEGER NOT NULL,
        refs TEXT NOT NULL,
        PRIMARY KEY (finding_id, signature)
      );
      CREATE TABLE sims (
        device TEXT NOT NULL,
        channel TEXT NOT NULL,
        imsi TEXT NOT NULL DEFAULT '',
        imei TEXT, iccid TEXT, msisdn TEXT, carrier TEXT, signal_dbm INTEGER, lac TEXT, cell TEXT,
        sms_login TEXT, smb_login TEXT, source TEXT NOT NULL,
        first_seen REAL, last_seen REAL, refs TEXT NOT NULL,
        PRIMARY KEY (device, channel, imsi)
      );
      CREATE TABLE sms (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        channel TEXT NOT NULL,
        sender TEXT NOT NULL,
        body TEXT NOT NULL,
        recv_id TEXT,
        source TEXT NOT NULL,
        copies INTEGER NOT NULL,
        ts REAL,
        refs TEXT NOT NULL
      );
      CREATE INDEX findings_device ON findings(device);
    `);
  },
  // v2: modem-side observations (surveys, SMS read over AT) and their findings
  (db) => {
    db.exec(`
      CREATE TABLE modem_surveys (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        port TEXT NOT NULL,
        driver TEXT NOT NULL,
        answered INTEGER NOT NULL,
        manufacturer TEXT, model TEXT, revision TEXT, imei TEXT, sim_state TEXT, imsi TEXT, iccid TEXT, msisdn TEXT,
        operator TEXT, registration TEXT, signal TEXT, cells TEXT NOT NULL, errors TEXT NOT NULL, refs TEXT NOT NULL,
        started_at TEXT NOT NULL
      );
      CREATE INDEX modem_surveys_imsi ON modem_surveys(imsi);
      CREATE TABLE modem_sms (
        id TEXT PRIMARY KEY,
        port TEXT NOT NULL,
        sender TEXT NOT NULL,
        text TEXT NOT NULL,
        timestamp TEXT,
        status TEXT,
        transcript_line INTEGER,
        run_id INTEGER NOT NULL REFERENCES runs(id)
      );
      CREATE TABLE modem_findings (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        kind TEXT NOT NULL,
        summary TEXT NOT NULL,
        ports TEXT NOT NULL,
        counts TEXT,
        refs TEXT NOT NULL
      );
    `);
  },
  // v3: the probe's outbox (DESIGN §5; contract in outbox-types.ts) and what retention dropped.
  // `seq` keeps enqueue order within one createdAt millisecond; `state` moves pending → inflight
  // → sent, and inflight rows left by a crash go back to pending on open (outbox.ts).
  (db) => {
    db.exec(`
      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expiry_seconds INTEGER,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'inflight', 'sent')),
        sent_at INTEGER
      );
      CREATE INDEX outbox_queue ON outbox(state, priority, created_at, seq);
      CREATE TABLE retention_log (
        tbl TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT '',
        dropped INTEGER NOT NULL DEFAULT 0,
        last_at INTEGER NOT NULL,
        PRIMARY KEY (tbl, topic)
      );
    `);
  },
  // v4: behaviour findings ("sim-farm") keep their explanation: every feature as measured, the
  // counters and the calls shown as evidence (JSON; refs resolved like the evidence rows' refs).
  (db) => {
    db.exec('ALTER TABLE findings ADD COLUMN behaviour TEXT');
  },
  // v5: the probe's clock when a finding was taken (JSON {synced, correctedByMs?}; NULL from a
  // replay, whose times come from the capture file): a Pi without RTC may start in 1970, and a
  // row must say whether its times are wall-clock times or were corrected after NTP (src/clock.ts).
  (db) => {
    db.exec('ALTER TABLE findings ADD COLUMN clock TEXT');
  },
  // v6: the probe's evidence files (src/store/evidence-files.ts: the frames behind live findings,
  // pcap, hashed when closed) and, per finding, the sources its refs index (JSON; NULL from a
  // replay, whose refs are resolved to input files as before).
  (db) => {
    db.exec(`
      CREATE TABLE evidence_files (
        name TEXT PRIMARY KEY,
        interface TEXT NOT NULL,
        linktype INTEGER NOT NULL,
        run_id INTEGER,
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        frames INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        sha256 TEXT,
        note TEXT
      );
      ALTER TABLE findings ADD COLUMN sources TEXT;
    `);
  },
  // v7: the probe's AT transcripts (a survey's, or one opening of a port while listening), so the
  // transcript refs of its surveys, modem findings and events point at text that is kept.
  // `text` is the dump format (src/at/transcript.ts serialiseTranscript), `sha256` its hash.
  (db) => {
    db.exec(`
      CREATE TABLE modem_transcripts (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        port TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('survey', 'listen')),
        started_at TEXT NOT NULL,
        session INTEGER NOT NULL DEFAULT 1,
        entries INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        text TEXT NOT NULL
      );
      CREATE INDEX modem_transcripts_port ON modem_transcripts(port, started_at);
      ALTER TABLE modem_surveys ADD COLUMN transcript_id INTEGER;
    `);
  },
];

export const schemaVersion = migrations.length;

export function openDatabase(path: string): Db {
  let db: Db;
  try {
    db = new Database(path);
  } catch (e) {
    throw new GoipwatchError(ErrorCodes.Store, `cannot open database ${path}: ${describeError(e)}`, { path });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (e) {
    db.close();
    if (e instanceof GoipwatchError) throw e;
    throw new GoipwatchError(ErrorCodes.Store, `cannot prepare database ${path}: ${describeError(e)}`, { path });
  }
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new GoipwatchError(ErrorCodes.Store, `database schema v${current} is newer than this goipwatch understands (v${migrations.length}); upgrade goipwatch`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      migrations[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
