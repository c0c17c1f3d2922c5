/**
 * The probe store's size quota on real files: a store filled well past a 2 MB quota with
 * heartbeats, events, modem observations and findings is brought back under it by dropping the
 * least important rows first, counting them, and shrinking the file; findings and unsent findings
 * messages are never touched.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/detect/model.js';
import type { DumpedSms, PortSurvey } from '../../src/modems/types.js';
import type { OutboxInput } from '../../src/store/outbox.js';
import { ProbeStore } from '../../src/store/probe-store.js';
import { retentionSteps } from '../../src/store/retention.js';

const quota = 2 * 1024 * 1024;
const filler = (n: number) => 'y'.repeat(n);

function finding(n: number): Finding {
  return {
    id: `f-${n}`, kind: 'voip-gsm-gateway', device: `mac:02:00:00:00:00:${n.toString(16).padStart(2, '0')}`, family: 'goip', confidence: 'high',
    score: 0.9, categories: ['sip'], firstSeen: n, lastSeen: n,
    evidence: [{ signature: 'goip-sip-ua', family: 'goip', finding: 'voip-gsm-gateway', category: 'sip', strength: 'strong', weight: 3,
      summary: 'User-Agent dbl', source: 'sip', count: 1, firstSeen: n, lastSeen: n, refs: [{ file: 0, frames: [n] }] }],
  };
}

function survey(n: number): PortSurvey {
  return { port: `/dev/serial/by-path/p${n % 32}`, driver: 'generic', answered: true, imei: '490154203237518', cells: [], remoteSimMarkers: 0,
    errors: [{ command: 'AT+CNUM', error: filler(600) }], refs: {}, startedAt: new Date(n * 1000).toISOString(), durationMs: 1200 };
}

function sms(n: number): DumpedSms {
  const port = `/dev/serial/by-path/p${n % 32}`;
  return { port, index: n, status: 'REC READ', sender: '+491700000000', text: `code ${n} ${filler(500)}`,
    timestamp: new Date(n * 1000).toISOString(), ref: { port, line: n } };
}

function message(id: string, topic: OutboxInput['topic'], priority: number, size: number, createdAt: number): OutboxInput {
  return { id, topic, payload: JSON.stringify({ id, pad: filler(size) }), qos: topic === 'heartbeat' ? 0 : 1, retain: false, priority, createdAt };
}

function count(path: string, sql: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('probe store quota', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'goipwatch-quota-'));
    path = join(dir, 'probe.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** ~5.5 MB: 60 findings (40 messages unsent, 20 sent), 2000 heartbeats, 1000 events, 2000 SMS, 1500 surveys. */
  function fill(store: ProbeStore): void {
    let t = 1;
    for (let b = 0; b < 20; b++) {
      store.write({
        findings: [finding(b * 3), finding(b * 3 + 1), finding(b * 3 + 2)],
        surveys: Array.from({ length: 75 }, (_, i) => survey(b * 75 + i)),
        sms: Array.from({ length: 100 }, (_, i) => sms(b * 100 + i)),
        outbox: [
          ...[0, 1, 2].map((i) => message(`fm-${b * 3 + i}`, 'findings', 0, 400, t++)),
          ...Array.from({ length: 100 }, (_, i) => message(`hb-${b}-${i}`, 'heartbeat', 3, 700, t++)),
          ...Array.from({ length: 50 }, (_, i) => message(`ev-${b}-${i}`, 'events', 2, 700, t++)),
        ],
      });
    }
    // The reporter delivered the first 20 findings messages.
    const delivered = store.outbox.next(20);
    store.outbox.markSent(delivered.map((m) => m.id));
    expect(delivered.every((m) => m.topic === 'findings')).toBe(true);
  }

  it('drops the least important rows first, counts them, and shrinks the file under the quota', () => {
    const store = ProbeStore.open(path, { quotaBytes: quota });
    let result: ReturnType<ProbeStore['retain']>;
    try {
      fill(store);
      const before = store.sizeBytes();
      expect(before).toBeGreaterThan(2 * quota);
      result = store.retain();
      expect(result.ran).toBe(true);
      expect(result.underQuota).toBe(true);
      expect(result.beforeBytes).toBe(before);
      expect(store.sizeBytes()).toBeLessThanOrEqual(quota);
      expect(statSync(path).size).toBe(result.afterBytes); // WAL truncated, file itself shrunk

      // Lowest value first: delivered messages, heartbeats and events are all gone before any SMS.
      expect(result.dropped).toMatchObject({ 'outbox_sent/findings': 20, 'outbox/heartbeat': 2000, 'outbox/events': 1000 });
      expect(result.dropped['modem_sms']).toBeGreaterThan(0);
    } finally {
      store.close();
    }

    // What is left matches the counts exactly.
    expect(count(path, `SELECT count(*) AS n FROM outbox WHERE topic = 'heartbeat'`)).toBe(0);
    expect(count(path, `SELECT count(*) AS n FROM outbox WHERE topic = 'events'`)).toBe(0);
    expect(count(path, 'SELECT count(*) AS n FROM modem_sms')).toBe(2000 - result.dropped['modem_sms']!);
    expect(count(path, 'SELECT count(*) AS n FROM modem_surveys')).toBe(1500 - (result.dropped['modem_surveys'] ?? 0));
    // Never dropped: findings rows, their evidence, unsent findings messages.
    expect(count(path, 'SELECT count(*) AS n FROM findings')).toBe(60);
    expect(count(path, 'SELECT count(*) AS n FROM evidence')).toBe(60);
    expect(count(path, `SELECT count(*) AS n FROM outbox WHERE topic = 'findings' AND state != 'sent'`)).toBe(40);

    // The counts are persisted and reported after a restart.
    const reopened = ProbeStore.open(path, { quotaBytes: quota });
    try {
      expect(reopened.outbox.stats().dropped).toEqual({ heartbeat: 2000, events: 1000 });
      expect(reopened.droppedCounts()).toMatchObject(result.dropped);
      expect(reopened.retain().ran).toBe(false);
    } finally {
      reopened.close();
    }
  }, 30_000);

  it('keeps heartbeats the reporter holds (inflight) while dropping the queued ones', () => {
    const store = ProbeStore.open(path, { quotaBytes: quota });
    try {
      fill(store);
      // Unsent findings (40) and events (1000) come first in the queue, then heartbeats.
      const held = store.outbox.next(1100).map((m) => m.id).filter((id) => id.startsWith('hb-'));
      expect(held).toHaveLength(60);
      store.retain();
      expect(count(path, `SELECT count(*) AS n FROM outbox WHERE topic = 'heartbeat' AND state = 'pending'`)).toBe(0);
      expect(count(path, `SELECT count(*) AS n FROM outbox WHERE state = 'inflight' AND topic = 'heartbeat'`)).toBe(held.length);
    } finally {
      store.close();
    }
  }, 30_000);

  it('says so when findings alone fill the quota, and drops none of them', () => {
    const store = ProbeStore.open(path, { quotaBytes: quota });
    try {
      for (let b = 0; b < 30; b++) {
        store.write({ outbox: [
          ...Array.from({ length: 50 }, (_, i) => message(`fm-${b}-${i}`, 'findings', 0, 2000, b * 100 + i)),
          ...Array.from({ length: 10 }, (_, i) => message(`hb-${b}-${i}`, 'heartbeat', 3, 200, b * 100 + 50 + i)),
        ] });
      }
      const result = store.retain();
      expect(result.underQuota).toBe(false);
      expect(result.dropped).toEqual({ 'outbox/heartbeat': 300 });
      expect(store.outbox.stats()).toMatchObject({ pending: 1500, dropped: { heartbeat: 300 } });
    } finally {
      store.close();
    }
  }, 30_000);

  it('does nothing under the quota', () => {
    const store = ProbeStore.open(path, { quotaBytes: quota });
    try {
      store.write({ outbox: [message('hb-1', 'heartbeat', 3, 100, 1)], findings: [finding(1)] });
      expect(store.retain()).toMatchObject({ ran: false, dropped: {}, underQuota: true });
      expect(store.droppedCounts()).toEqual({});
    } finally {
      store.close();
    }
  });

  it('lists its steps so that findings messages are never eligible', () => {
    for (const step of retentionSteps.filter((s) => s.table === 'outbox' && s.log === 'outbox')) {
      expect(step.where).toContain(`topic != 'findings'`);
      expect(step.where).toContain('priority > 0');
    }
  });
});
