/**
 * Crash safety of the probe store: a real node process writes batches (findings, surveys, outbox
 * messages, retention passes) into a real SQLite file and is SIGKILLed mid-way, twice. Afterwards
 * the database must pass integrity_check and hold every batch the writer reported committed.
 * SIGKILL stands for a crashed or OOM-killed daemon; a power cut (the OS losing unsynced pages)
 * cannot be produced here.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeStore } from '../../src/store/probe-store.js';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, '../helpers/store-writer.mjs');
const built = join(here, '../../dist/src/store/probe-store.js');
const quota = 4 * 1024 * 1024;

/** Runs the writer from batch `first` and SIGKILLs it once `atLeast` more batches were reported; resolves to the last one reported. */
function writeUntilKilled(path: string, first: number, atLeast: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, path, String(first), String(quota)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = first - 1;
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^committed (\d+)$/.exec(line);
        if (m) last = Number(m[1]);
      }
      if (!killed && last - first + 1 >= atLeast) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`writer ended by itself (code ${code}) before it was killed: ${stderr}`));
    });
  });
}

function checkIntegrity(path: string): string[] {
  const db = new Database(path);
  try {
    return (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
  } finally {
    db.close();
  }
}

/**
 * What of batches 1..upTo is not in the file. Findings rows are never dropped; a findings message
 * may only be missing when it was delivered and retention then removed the sent row, so the
 * missing messages must be covered by the `outbox_sent/findings` count and no unsent one dropped.
 */
function lostBatches(path: string, upTo: number): { findings: number[]; messagesMissing: number; sentDropped: number; unsentDropped: number } {
  const db = new Database(path, { readonly: true });
  try {
    const finding = db.prepare('SELECT 1 FROM findings WHERE id = ?');
    const messages = db.prepare(`SELECT count(*) AS n FROM outbox WHERE id LIKE ?`);
    const log = db.prepare(`SELECT coalesce(sum(dropped), 0) AS n FROM retention_log WHERE tbl = ? AND topic = 'findings'`);
    const findings: number[] = [];
    let messagesMissing = 0;
    for (let n = 1; n <= upTo; n++) {
      if (!finding.get(`f-${n}`)) findings.push(n);
      messagesMissing += 8 - (messages.get(`m-${n}-%`) as { n: number }).n;
    }
    const sentDropped = (log.get('outbox_sent') as { n: number }).n;
    const unsentDropped = (log.get('outbox') as { n: number }).n;
    return { findings, messagesMissing, sentDropped, unsentDropped };
  } finally {
    db.close();
  }
}

function expectNothingLost(path: string, upTo: number): void {
  const lost = lostBatches(path, upTo);
  expect(lost.findings).toEqual([]);
  expect(lost.unsentDropped).toBe(0);
  expect(lost.messagesMissing).toBeLessThanOrEqual(lost.sentDropped);
}

describe('probe store after SIGKILL', () => {
  let dir: string;
  let path: string;
  beforeAll(() => {
    if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build (npm test builds before vitest)`);
    dir = mkdtempSync(join(tmpdir(), 'goipwatch-crash-'));
    path = join(dir, 'probe.sqlite');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every committed batch and a sound file across two kills', async () => {
    const firstKill = await writeUntilKilled(path, 1, 150);
    expect(checkIntegrity(path)).toEqual(['ok']);
    expectNothingLost(path, firstKill);

    // The second writer starts on the crashed file: WAL recovery, leftover inflight rows.
    const secondKill = await writeUntilKilled(path, firstKill + 1, 150);
    expect(checkIntegrity(path)).toEqual(['ok']);
    expectNothingLost(path, secondKill);

    const store = ProbeStore.open(path, { quotaBytes: quota });
    try {
      expect(store.recovered).toBeUndefined();
      const stats = store.outbox.stats();
      expect(stats.inflight).toBe(0);
      // The shared finding was updated by every batch, never repeated.
      const db = new Database(path, { readonly: true });
      try {
        expect(db.prepare(`SELECT count(*) AS n FROM findings WHERE id = 'f-shared'`).get()).toEqual({ n: 1 });
        expect((db.prepare(`SELECT updated_runs AS n FROM findings WHERE id = 'f-shared'`).get() as { n: number }).n).toBeGreaterThanOrEqual(secondKill);
      } finally {
        db.close();
      }
    } finally {
      store.close();
    }
  }, 60_000);

  it('moves a corrupt file aside and starts with an empty store', () => {
    const bad = join(dir, 'garbage.sqlite');
    writeFileSync(bad, Buffer.alloc(8192, 0x5a));
    const store = ProbeStore.open(bad, { quotaBytes: quota });
    try {
      expect(store.recovered?.problem).toMatch(/SQLITE_NOTADB/);
      expect(existsSync(store.recovered?.movedTo ?? '')).toBe(true);
      expect(store.outbox.stats()).toEqual({ pending: 0, inflight: 0, sent: 0, dropped: {} });
    } finally {
      store.close();
    }
    expect(checkIntegrity(bad)).toEqual(['ok']);
  });
});
