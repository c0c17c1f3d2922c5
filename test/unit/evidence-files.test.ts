/**
 * The probe's evidence path without the network: FrameRing keeps recent frames in fixed memory,
 * EvidenceFiles writes the ones asked for to pcap files that libpcap reads back byte for byte,
 * hashes them, rotates them, refuses beyond its cap, and hashes what an unclean stop left.
 * Frames are synthetic (numbered payloads); the SQLite store is a real file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FrameRing } from '../../src/capture/frame-ring.js';
import { readCaptureFile, type Frame } from '../../src/capture/file-source.js';
import { openDatabase } from '../../src/store/database.js';
import { EvidenceFiles, type ClosedEvidenceFile } from '../../src/store/evidence-files.js';

/** An Ethernet-sized frame whose bytes say its number. */
function frame(number: number, size = 100): Frame {
  const data = Buffer.alloc(size, number & 0xff);
  data.writeUInt32BE(number, 0);
  return { number, dlt: 1, data, caplen: size, origLen: size + 4, ts: 1_765_000_000_000 + number * 1.5 };
}

async function readBack(path: string): Promise<Array<{ number: number; first: number; caplen: number; origLen: number; ts: number }>> {
  const out: Array<{ number: number; first: number; caplen: number; origLen: number; ts: number }> = [];
  await readCaptureFile(path, (f) => out.push({ number: f.number, first: f.data.readUInt32BE(0), caplen: f.caplen, origLen: f.origLen, ts: f.ts }));
  return out;
}

describe('FrameRing', () => {
  it('returns the recent frames intact, across the wrap of its buffer, and forgets the old ones', () => {
    const ring = new FrameRing(65_536, 1024);
    for (let n = 1; n <= 2000; n++) ring.push(frame(n, 60 + (n % 700)));
    // 2000 frames of ~410 bytes on average do not fit in 64 KiB: the first ones are gone.
    expect(ring.get(1)).toBeUndefined();
    expect(ring.get(2001)).toBeUndefined();
    let kept = 0;
    for (let n = 1; n <= 2000; n++) {
      const f = ring.get(n);
      if (!f) continue;
      kept++;
      expect(f.data.equals(frame(n, 60 + (n % 700)).data)).toBe(true);
      expect(f.origLen).toBe(60 + (n % 700) + 4);
    }
    expect(kept).toBeGreaterThan(100);
    expect(ring.get(2000)).toBeDefined();
  });

  it('counts a frame larger than the whole ring instead of keeping a torn copy', () => {
    const ring = new FrameRing(65_536, 1024);
    ring.push(frame(1, 70_000));
    expect(ring.get(1)).toBeUndefined();
    expect(ring.tooLarge).toBe(1);
  });
});

describe('EvidenceFiles', () => {
  it('writes the frames asked for to a pcap that libpcap reads back, once each, and hashes it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-evidence-'));
    const db = openDatabase(join(dir, 'probe.db'));
    const closed: ClosedEvidenceFile[] = [];
    const ev = new EvidenceFiles(db, { dir: join(dir, 'evidence'), runId: 1, runStarted: new Date('2026-12-07T05:55:21.123Z'), onClosed: (f) => closed.push(f) });
    const ring = new FrameRing(1 << 20);
    for (let n = 1; n <= 50; n++) ring.push(frame(n));
    const kept = [7, 3, 7, 42].map((n) => ev.keep('eth0', 1, n, () => ring.get(n)));
    expect(kept).toEqual([
      { name: 'eth0-20261207T055521Z-001.pcap', position: 1 },
      { name: 'eth0-20261207T055521Z-001.pcap', position: 2 },
      { name: 'eth0-20261207T055521Z-001.pcap', position: 1 }, // the same frame again: not written twice
      { name: 'eth0-20261207T055521Z-001.pcap', position: 3 },
    ]);
    ev.sync();
    ev.close();
    const path = join(dir, 'evidence', 'eth0-20261207T055521Z-001.pcap');
    expect((await readBack(path)).map((f) => [f.number, f.first, f.caplen, f.origLen])).toEqual([[1, 7, 100, 104], [2, 3, 100, 104], [3, 42, 100, 104]]);
    expect((await readBack(path))[0]!.ts).toBeCloseTo(frame(7).ts, 3);
    const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
    expect(closed).toEqual([{ name: 'eth0-20261207T055521Z-001.pcap', iface: 'eth0', frames: 3, bytes: 24 + 3 * 116, sha256 }]);
    expect(db.prepare('SELECT frames, bytes, sha256, note FROM evidence_files').all()).toEqual([{ frames: 3, bytes: 372, sha256, note: null }]);
    db.close();
  });

  it('starts a new file past maxFileBytes and keeps nothing more past maxTotalBytes, counting what it refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-evidence-'));
    const db = openDatabase(join(dir, 'probe.db'));
    const ev = new EvidenceFiles(db, { dir: join(dir, 'evidence'), runId: 1, runStarted: new Date(0), maxFileBytes: 24 + 4 * 116, maxTotalBytes: 2 * (24 + 4 * 116) + 24 + 116 });
    const ring = new FrameRing(1 << 20);
    for (let n = 1; n <= 20; n++) ring.push(frame(n));
    const kept = Array.from({ length: 12 }, (_, i) => ev.keep('eth0', 1, i + 1, () => ring.get(i + 1)));
    expect(kept.map((k) => k && `${k.name.slice(-7, -5)}#${k.position}`)).toEqual([
      '01#1', '01#2', '01#3', '01#4', '02#1', '02#2', '02#3', '02#4', '03#1', undefined, undefined, undefined,
    ]);
    expect(ev.refused).toBe(3);
    // A frame no longer in memory is simply not kept (nothing is written for it).
    expect(ev.keep('eth0', 1, 99, () => undefined)).toBeUndefined();
    ev.close();
    expect((db.prepare('SELECT count(*) n FROM evidence_files WHERE sha256 IS NOT NULL').get() as { n: number }).n).toBe(3);
    db.close();
  });

  it('hashes a file an unclean stop left open, as it is, and says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-evidence-'));
    const db = openDatabase(join(dir, 'probe.db'));
    const first = new EvidenceFiles(db, { dir: join(dir, 'evidence'), runId: 1, runStarted: new Date(0) });
    const ring = new FrameRing(1 << 20);
    ring.push(frame(1));
    first.keep('eth1', 1, 1, () => ring.get(1));
    first.sync();
    // No close(): the process "died" here. The next start finds the row without a hash.
    const closed: ClosedEvidenceFile[] = [];
    new EvidenceFiles(db, { dir: join(dir, 'evidence'), runId: 2, runStarted: new Date(1000), onClosed: (f) => closed.push(f) });
    const path = join(dir, 'evidence', 'eth1-19700101T000000Z-001.pcap');
    expect(closed).toEqual([{
      name: 'eth1-19700101T000000Z-001.pcap', iface: 'eth1', frames: 1, bytes: 140,
      sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), note: expect.stringMatching(/unclean stop/) as string,
    }]);
    db.close();
  });

  it('never reuses a name: a restart within the same second writes the next number', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-evidence-'));
    const db = openDatabase(join(dir, 'probe.db'));
    const ring = new FrameRing(1 << 20);
    ring.push(frame(1));
    const names = [1, 2].map((run) => {
      const ev = new EvidenceFiles(db, { dir: join(dir, 'evidence'), runId: run, runStarted: new Date(5000) });
      const kept = ev.keep('eth0', 1, 1, () => ring.get(1))!;
      ev.close();
      return kept.name;
    });
    expect(names).toEqual(['eth0-19700101T000005Z-001.pcap', 'eth0-19700101T000005Z-002.pcap']);
    db.close();
  });
});
