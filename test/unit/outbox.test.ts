/**
 * The SQLite outbox on a real database file: queue order, inflight bookkeeping, de-duplication by
 * id and what survives closing and reopening the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { SqliteOutbox, type OutboxInput } from '../../src/store/outbox.js';
import type { ReportTopic } from '../../src/store/outbox-types.js';

const priorities: Record<ReportTopic, number> = { findings: 0, inventory: 1, survey: 1, events: 2, heartbeat: 3, status: 1 };

function msg(id: string, topic: ReportTopic, createdAt: number, extra: Partial<OutboxInput> = {}): OutboxInput {
  return { id, topic, payload: JSON.stringify({ id }), qos: 1, retain: false, priority: priorities[topic], createdAt, ...extra };
}

describe('SqliteOutbox', () => {
  let dir: string;
  let path: string;
  const opened: Array<{ close(): unknown }> = [];
  const open = () => {
    const db = openDatabase(path);
    opened.push(db);
    return { db, outbox: new SqliteOutbox(db, { now: () => 1_700_000_000_000 }) };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'goipwatch-outbox-'));
    path = join(dir, 'probe.sqlite');
  });
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands out the lowest priority number first, then the oldest', () => {
    const { outbox } = open();
    outbox.enqueue([
      msg('hb-1', 'heartbeat', 100), msg('ev-1', 'events', 50), msg('f-2', 'findings', 300),
      msg('f-1', 'findings', 200), msg('inv-1', 'inventory', 10), msg('hb-0', 'heartbeat', 90),
    ]);
    expect(outbox.next(10).map((m) => m.id)).toEqual(['f-1', 'f-2', 'inv-1', 'ev-1', 'hb-0', 'hb-1']);
  });

  it('keeps enqueue order among messages created in the same millisecond', () => {
    const { outbox } = open();
    outbox.enqueue(['c', 'a', 'b'].map((id) => msg(id, 'events', 5)));
    expect(outbox.next(3).map((m) => m.id)).toEqual(['c', 'a', 'b']);
  });

  it('round-trips every field and fills createdAt from the clock when absent', () => {
    const { outbox } = open();
    const { createdAt: _omit, ...withoutTime } = msg('hb', 'heartbeat', 0, { qos: 0, retain: true, expirySeconds: 90 });
    outbox.enqueue([withoutTime]);
    expect(outbox.next(1)).toEqual([{ id: 'hb', topic: 'heartbeat', payload: '{"id":"hb"}', qos: 0, retain: true, priority: 3, createdAt: 1_700_000_000_000, expirySeconds: 90 }]);
  });

  it('never hands out a message twice while it is inflight', () => {
    const { outbox } = open();
    outbox.enqueue([msg('a', 'findings', 1), msg('b', 'findings', 2), msg('c', 'findings', 3)]);
    expect(outbox.next(2).map((m) => m.id)).toEqual(['a', 'b']);
    expect(outbox.next(10).map((m) => m.id)).toEqual(['c']);
    expect(outbox.next(10)).toEqual([]);
  });

  it('marks acknowledged messages sent and returns released ones to the queue', () => {
    const { outbox } = open();
    outbox.enqueue([msg('a', 'findings', 1), msg('b', 'findings', 2), msg('c', 'events', 3)]);
    outbox.next(10);
    outbox.markSent(['a']);
    outbox.release(['b', 'c']);
    expect(outbox.stats()).toEqual({ pending: 2, inflight: 0, sent: 1, dropped: {} });
    expect(outbox.next(10).map((m) => m.id)).toEqual(['b', 'c']);
    // A PUBACK that arrives after the connection was given up still counts.
    outbox.release(['b']);
    outbox.markSent(['b', 'unknown-id']);
    expect(outbox.stats()).toMatchObject({ pending: 1, inflight: 1, sent: 2 });
  });

  it('returns messages left inflight by a crash to the queue when reopened', () => {
    const first = open();
    first.outbox.enqueue([msg('a', 'findings', 1), msg('b', 'findings', 2), msg('c', 'findings', 3)]);
    expect(first.outbox.next(2)).toHaveLength(2);
    first.outbox.markSent(['a']);
    first.db.close(); // the process dies here: b was published, no PUBACK recorded

    const second = open();
    expect(second.outbox.stats()).toMatchObject({ pending: 2, inflight: 0, sent: 1 });
    expect(second.outbox.next(10).map((m) => m.id)).toEqual(['b', 'c']);
  });

  it('updates a message enqueued again under the same id instead of repeating it', () => {
    const { db, outbox } = open();
    outbox.enqueue([msg('f', 'findings', 1, { payload: '{"rev":1}' })]);
    outbox.enqueue([msg('f', 'findings', 9, { payload: '{"rev":2}' }), msg('g', 'findings', 2)]);
    expect((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n).toBe(2);
    const [first] = outbox.next(1);
    // Keeps its place in the queue (created at 1, before g) and carries the newest payload.
    expect(first).toMatchObject({ id: 'f', payload: '{"rev":2}', createdAt: 1 });

    // Inflight: the content is refreshed, the message is not handed out a second time.
    outbox.enqueue([msg('f', 'findings', 1, { payload: '{"rev":3}' })]);
    expect(outbox.next(10).map((m) => m.id)).toEqual(['g']);
    outbox.release(['f']);
    expect(outbox.next(1)[0]?.payload).toBe('{"rev":3}');

    // Sent: receivers already hold this id, so it is not queued again.
    outbox.markSent(['f', 'g']);
    outbox.enqueue([msg('f', 'findings', 1, { payload: '{"rev":4}' })]);
    expect(outbox.next(10)).toEqual([]);
    expect(outbox.stats()).toMatchObject({ pending: 0, sent: 2 });
  });

  it('reports retention drops of unsent messages by topic, not of delivered ones', () => {
    const { db, outbox } = open();
    db.prepare(`INSERT INTO retention_log (tbl, topic, dropped, last_at) VALUES ('outbox', 'heartbeat', 7, 0), ('outbox_sent', 'findings', 3, 0), ('modem_sms', '', 2, 0)`).run();
    expect(outbox.stats().dropped).toEqual({ heartbeat: 7 });
  });

  it('ignores a non-positive limit', () => {
    const { outbox } = open();
    outbox.enqueue([msg('a', 'findings', 1)]);
    expect(outbox.next(0)).toEqual([]);
    expect(outbox.next(-1)).toEqual([]);
    expect(outbox.next(1)).toHaveLength(1);
  });
});
