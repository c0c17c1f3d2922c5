/**
 * Evidence files of a live probe: the frames behind its findings, written as classic pcap files
 * in `<stateDir>/evidence/` so that a finding made on the wire points back to file + frame, with a
 * SHA-256, like a finding from a replayed capture.
 *
 *   daemon flush ─► EvidenceFiles.keep(iface, RingFrame) ─► <iface>-<run start>-<nnn>.pcap (append)
 *                                                               │ hash updated as bytes are written
 *                   sync() (after each batch: fsync) ◄──────────┘
 *                   a file reaches maxFileBytes, or close() ─► fsync, SHA-256, row in evidence_files
 *
 *   open: rows left without a hash by an unclean stop ─► hash the file as it is, note it
 *
 * Never deletes or rewrites a file: when `maxTotalBytes` is reached, further frames are not kept
 * and are counted (`refused`). A frame is written at most once per run (the position it got is
 * remembered, within a bound), so a finding reported again points at the same frame.
 * Format: pcap 2.4, microsecond timestamps, the interface's link type (pcap-savefile(5)).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Db } from './database.js';
import type { RingFrame } from '../capture/frame-ring.js';

export interface EvidenceFilesOptions {
  dir: string;
  /** The store's run (daemon start) this writer belongs to. */
  runId: number;
  /** Names the files: `<iface>-<runStarted, compact ISO>-<nnn>.pcap`. */
  runStarted: Date;
  /** Start a new file beyond this size (default 16 MiB). */
  maxFileBytes?: number;
  /** Keep no more frames once the evidence directory holds this much (default 256 MiB). */
  maxTotalBytes?: number;
  /** Called when a file is closed, with its hash (the daemon reports it). */
  onClosed?: (f: ClosedEvidenceFile) => void;
}

export interface ClosedEvidenceFile {
  name: string;
  iface: string;
  frames: number;
  bytes: number;
  sha256: string;
  note?: string;
}

/** Where a kept frame is: the evidence file and its 1-based position in it (as Wireshark counts). */
export interface KeptFrame {
  name: string;
  position: number;
}

interface OpenFile {
  name: string;
  iface: string;
  fd: number;
  hash: Hash;
  frames: number;
  bytes: number;
}

/** Frame positions remembered per interface (beyond it the oldest are forgotten: a frame asked for again is written again). */
const REMEMBER = 200_000;

export class EvidenceFiles {
  private readonly files = new Map<string, OpenFile>();
  private readonly serial = new Map<string, number>();
  private readonly kept = new Map<string, Map<number, KeptFrame>>();
  private totalBytes: number;
  private readonly maxFileBytes: number;
  private readonly maxTotalBytes: number;
  private readonly stamp: string;
  /** Frames not kept because the directory reached maxTotalBytes. */
  refused = 0;

  constructor(private readonly db: Db, private readonly opts: EvidenceFilesOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.maxFileBytes = opts.maxFileBytes ?? 16 * 1024 * 1024;
    this.maxTotalBytes = opts.maxTotalBytes ?? 256 * 1024 * 1024;
    this.stamp = opts.runStarted.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    this.recover(); // first: it sets the true size of files an unclean stop left
    this.totalBytes = (db.prepare('SELECT coalesce(sum(bytes), 0) n FROM evidence_files').get() as { n: number }).n;
  }

  /**
   * Keep frame `number` of `iface` (link type `linktype`): where it was written before, else
   * `frame()` (the copy in the FrameRing) written now; undefined when it is no longer in memory or
   * the space is used up.
   */
  keep(iface: string, linktype: number, number: number, frameOf: () => RingFrame | undefined): KeptFrame | undefined {
    let known = this.kept.get(iface);
    if (!known) this.kept.set(iface, (known = new Map()));
    const seen = known.get(number);
    if (seen) return seen;
    const frame = frameOf();
    if (!frame) return undefined;
    const record = 16 + frame.data.length;
    if (this.totalBytes + record > this.maxTotalBytes) {
      this.refused++;
      return undefined;
    }
    let f = this.files.get(iface);
    if (f && f.bytes + record > this.maxFileBytes) {
      this.closeFile(f);
      f = undefined;
    }
    f ??= this.openFile(iface, linktype, frame.data.length);
    const rec = Buffer.allocUnsafe(record);
    const sec = Math.floor(frame.ts / 1000);
    const usec = Math.min(999_999, Math.max(0, Math.round((frame.ts - sec * 1000) * 1000)));
    rec.writeUInt32LE(sec >>> 0, 0);
    rec.writeUInt32LE(usec, 4);
    rec.writeUInt32LE(frame.data.length, 8);
    rec.writeUInt32LE(frame.origLen, 12);
    frame.data.copy(rec, 16);
    this.write(f, rec);
    f.frames++;
    const at = { name: f.name, position: f.frames };
    known.set(frame.number, at);
    if (known.size > REMEMBER) known.delete(known.keys().next().value!);
    return at;
  }

  /** Make what was kept so far durable (one fsync per open file), and record the counts. */
  sync(): void {
    const update = this.db.prepare('UPDATE evidence_files SET frames = ?, bytes = ? WHERE name = ?');
    for (const f of this.files.values()) {
      fsyncSync(f.fd);
      update.run(f.frames, f.bytes, f.name);
    }
  }

  /** Close every open file: fsync, hash, row completed. */
  close(): void {
    for (const f of [...this.files.values()]) this.closeFile(f);
  }

  private openFile(iface: string, linktype: number, firstLen: number): OpenFile {
    // A name is never reused: a restart within the same second finds the earlier run's files.
    let n = this.serial.get(iface) ?? 0;
    let name: string;
    do {
      n++;
      name = `${iface}-${this.stamp}-${String(n).padStart(3, '0')}.pcap`;
    } while (existsSync(join(this.opts.dir, name)));
    this.serial.set(iface, n);
    const fd = openSync(join(this.opts.dir, name), 'wx', 0o640);
    const f: OpenFile = { name, iface, fd, hash: createHash('sha256'), frames: 0, bytes: 0 };
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0); // microsecond timestamps, little-endian
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(Math.max(65_535, firstLen), 16); // snaplen
    header.writeUInt32LE(linktype, 20);
    try {
      this.write(f, header);
    } catch (e) {
      closeSync(fd); // left empty (write() cut it back): no row, never used again
      throw e;
    }
    this.db.prepare('INSERT INTO evidence_files (name, interface, linktype, run_id, opened_at) VALUES (?, ?, ?, ?, ?)')
      .run(name, iface, linktype, this.opts.runId, new Date().toISOString());
    this.files.set(iface, f);
    return f;
  }

  /**
   * Append `b` whole, or not at all: a write that fails part-way (disk full) is cut back, so the
   * file always holds exactly the bytes its running hash has seen, and whole records only.
   */
  private write(f: OpenFile, b: Buffer): void {
    let off = 0;
    try {
      while (off < b.length) off += writeSync(f.fd, b, off, b.length - off, f.bytes + off);
    } catch (e) {
      if (off > 0) ftruncateSync(f.fd, f.bytes);
      throw e;
    }
    f.hash.update(b);
    f.bytes += b.length;
    this.totalBytes += b.length;
  }

  private closeFile(f: OpenFile): void {
    fsyncSync(f.fd);
    closeSync(f.fd);
    this.files.delete(f.iface);
    const sha256 = f.hash.digest('hex');
    this.db.prepare('UPDATE evidence_files SET frames = ?, bytes = ?, sha256 = ?, closed_at = ? WHERE name = ?')
      .run(f.frames, f.bytes, sha256, new Date().toISOString(), f.name);
    this.opts.onClosed?.({ name: f.name, iface: f.iface, frames: f.frames, bytes: f.bytes, sha256 });
  }

  /** Files an unclean stop left without a hash: hash them as they are now, and say so. */
  private recover(): void {
    const rows = this.db.prepare('SELECT name, interface, frames FROM evidence_files WHERE sha256 IS NULL').all() as Array<{ name: string; interface: string; frames: number }>;
    for (const r of rows) {
      const path = join(this.opts.dir, basename(r.name));
      const exists = existsSync(path);
      const bytes = exists ? statSync(path).size : 0;
      const sha256 = exists ? createHash('sha256').update(readFileSync(path)).digest('hex') : '';
      const note = exists
        ? `closed after an unclean stop: hashed as found at the next start; frames after the last sync (${r.frames}) may be missing or cut short`
        : 'missing at the next start';
      this.db.prepare('UPDATE evidence_files SET bytes = ?, sha256 = ?, closed_at = ?, note = ? WHERE name = ?')
        .run(bytes, sha256, new Date().toISOString(), note, r.name);
      if (exists) this.opts.onClosed?.({ name: r.name, iface: r.interface, frames: r.frames, bytes, sha256, note });
    }
  }
}
