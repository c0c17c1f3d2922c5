/**
 * Reads a capture file (pcap or pcapng) through libpcap, via the `pcap` package's native binding.
 *
 *   open (read-only) ──► libpcap pcap_open_offline ──► dispatch loop ──► onFrame(frame) per record
 *        │                                                  │
 *        └── SHA-256 of the file (separate read-only stream) └── -1 = libpcap read error → partial
 *
 * We call the binding directly rather than the package's `createOfflineSession` wrapper because
 * the wrapper discards dispatch()'s return value, so a truncated or corrupt file would look like a
 * clean end of file; for evidence we must say where reading stopped. The binding copies each
 * record into one reused buffer: frames are only valid during the callback.
 */
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';

const require = createRequire(import.meta.url);

export interface PcapSessionHandle {
  open_offline(
    path: string, filter: string, bufferSize: number, snapLength: number, outfile: string,
    onPacket: () => void, monitor: boolean, timeout: number, onWarning: (w: string) => void, promiscuous: boolean,
  ): string;
  dispatch(buffer: Buffer, header: Buffer): number;
  close(): void;
}
export interface PcapBinding {
  PcapSession: new () => PcapSessionHandle;
  lib_version(): string;
}

let binding: PcapBinding | undefined;
/** The `pcap` package's native binding (loaded once). */
export function pcapBinding(): PcapBinding {
  binding ??= require('pcap/build/Release/pcap_binding.node') as PcapBinding;
  return binding;
}

export function libpcapVersion(): string {
  return pcapBinding().lib_version();
}

/** DLT values (pcap_datalink), which is what libpcap reports for a file's LINKTYPE. */
export const Dlt = {
  Null: 0,
  Ethernet: 1,
  Raw: 12,
  Loop: 108,
  LinuxSll: 113,
  Ipv4: 228,
  Ipv6: 229,
  LinuxSll2: 276,
} as const;

const namedLinkTypes: Record<string, number> = {
  LINKTYPE_NULL: Dlt.Null,
  LINKTYPE_ETHERNET: Dlt.Ethernet,
  LINKTYPE_RAW: Dlt.Raw,
  LINKTYPE_LINUX_SLL: Dlt.LinuxSll,
  LINKTYPE_IEEE802_11_RADIO: 127,
};

export function linkTypeName(dlt: number): string {
  switch (dlt) {
    case Dlt.Null: return 'NULL';
    case Dlt.Ethernet: return 'EN10MB';
    case Dlt.Raw: return 'RAW';
    case Dlt.Loop: return 'LOOP';
    case Dlt.LinuxSll: return 'LINUX_SLL';
    case Dlt.LinuxSll2: return 'LINUX_SLL2';
    case Dlt.Ipv4: return 'IPV4';
    case Dlt.Ipv6: return 'IPV6';
    default: return `DLT_${dlt}`;
  }
}

/** The binding names a few link types and says "Unknown linktype N" for the rest. */
function parseLinkType(reported: string): number {
  const named = namedLinkTypes[reported];
  if (named !== undefined) return named;
  const m = /Unknown linktype (\d+)/.exec(reported);
  if (m) return Number(m[1]);
  return -1;
}

/** One record, valid only during the callback. */
export interface Frame {
  /** 1-based frame number, as Wireshark counts. */
  number: number;
  dlt: number;
  data: Buffer;
  caplen: number;
  origLen: number;
  /** Capture time in ms since the epoch, as the capturing clock recorded it. */
  ts: number;
}

export type CaptureFormat = 'pcap' | 'pcapng' | 'unknown';

export interface FileReadResult {
  path: string;
  sha256: string;
  size: number;
  format: CaptureFormat;
  dlt: number;
  linkType: string;
  frames: number;
  status: 'ok' | 'partial' | 'unreadable';
  /** For partial or unreadable files: what went wrong, in words a user can act on. */
  problem?: string;
}

export const SNAP_BUFFER = 262_144; // libpcap's MAXIMUM_SNAPLEN: no valid record is larger

export function sniffFormat(path: string): CaptureFormat {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n < 4) return 'unknown';
    const magic = head.readUInt32LE(0);
    if (magic === 0x0a0d0d0a) return 'pcapng';
    if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) return 'pcap';
    return 'unknown';
  } finally {
    closeSync(fd);
  }
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { flags: 'r', highWaterMark: 1 << 22 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * SHA-256 of a file on a worker thread, so that hashing (a third of the CPU of a replay on a CPU
 * without SHA instructions) runs beside libpcap's synchronous read loop instead of before it.
 * Falls back to the main thread when workers are unavailable.
 */
const hashWorkerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
try {
  const fd = openSync(workerData, 'r');
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 22);
  for (;;) { const n = readSync(fd, buf, 0, buf.length, null); if (n === 0) break; hash.update(buf.subarray(0, n)); }
  closeSync(fd);
  parentPort.postMessage({ ok: true, sha256: hash.digest('hex') });
} catch (e) {
  parentPort.postMessage({ ok: false, error: String(e && e.message || e) });
}`;

export function sha256FileInWorker(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(hashWorkerSource, { eval: true, workerData: path });
    } catch (e) {
      sha256File(path).then(resolve, reject);
      return;
    }
    worker.once('message', (m: { ok: boolean; sha256?: string; error?: string }) => {
      if (m.ok && m.sha256) resolve(m.sha256);
      else reject(new Error(m.error ?? 'hash worker failed'));
    });
    worker.once('error', reject);
  });
}

/**
 * For a classic pcap that libpcap stopped reading, walk the record headers ourselves to tell the
 * user exactly what is wrong (libpcap's own message is not exposed by the binding).
 */
export function diagnoseClassicPcap(path: string, framesRead: number): string {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const gh = Buffer.alloc(24);
    if (readSync(fd, gh, 0, 24, 0) < 24) return 'the file ends inside the 24-byte pcap file header';
    const magic = gh.readUInt32LE(0);
    const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    const rd = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const snaplen = rd(gh, 16);
    let offset = 24;
    const rh = Buffer.alloc(16);
    for (let record = 1; ; record++) {
      if (offset === size) return `libpcap stopped after frame ${framesRead} but the file ends cleanly at record ${record}`;
      const got = readSync(fd, rh, 0, 16, offset);
      if (got < 16) return `the file ends inside the header of record ${record} (byte ${offset}: ${got} of 16 bytes present)`;
      const caplen = rd(rh, 8);
      const origLen = rd(rh, 12);
      if (caplen > SNAP_BUFFER || (snaplen > 0 && caplen > Math.max(snaplen, SNAP_BUFFER))) {
        return `record ${record} at byte ${offset} claims a captured length of ${caplen} bytes, more than any valid record (at most ${SNAP_BUFFER})`;
      }
      if (offset + 16 + caplen > size) {
        return `the file is truncated inside record ${record} (byte ${offset}: it needs ${caplen} bytes of packet data, ${size - offset - 16} are present; original length ${origLen})`;
      }
      offset += 16 + caplen;
      if (record > framesRead + 1) return `libpcap reported a read error after frame ${framesRead}`;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Read every frame of a capture file. Never throws for a bad file: the result says `unreadable`
 * or `partial` with the problem, and every frame before the problem has been delivered.
 */
export async function readCaptureFile(path: string, onFrame: (frame: Frame) => void): Promise<FileReadResult> {
  let size = 0;
  try {
    const st = statSync(path);
    if (!st.isFile()) return unreadable(path, 0, 'is not a regular file');
    size = st.size;
  } catch (e) {
    return unreadable(path, 0, `cannot be opened: ${describeError(e)}`);
  }
  // Hash beside the read (a worker thread); both open the file read-only.
  const hashing = sha256FileInWorker(path).then(
    (sha256) => ({ sha256 }),
    (e: unknown) => ({ error: describeError(e) }),
  );
  const hashed = async (): Promise<string | { error: string }> => {
    const h = await hashing;
    return 'sha256' in h ? h.sha256 : h;
  };
  let format: CaptureFormat;
  try {
    format = size >= 4 ? sniffFormat(path) : 'unknown';
  } catch (e) {
    await hashing;
    return unreadable(path, size, `cannot be read: ${describeError(e)}`);
  }
  if (size === 0) {
    const h = await hashed();
    return { path, sha256: typeof h === 'string' ? h : '', size, format, dlt: -1, linkType: '', frames: 0, status: 'unreadable', problem: 'is empty' };
  }

  const session = new (pcapBinding().PcapSession)();
  const data = Buffer.alloc(SNAP_BUFFER);
  const header = Buffer.alloc(16);
  // The binding writes tv_sec, tv_usec, caplen, len as host-order 32-bit words; a typed view reads
  // them without Buffer's per-call checks (this runs once per packet).
  const words = new Uint32Array(header.buffer, header.byteOffset, 4);
  let frames = 0;
  let dlt = -1;
  const frame: Frame = { number: 0, dlt: -1, data, caplen: 0, origLen: 0, ts: 0 };
  const onPacket = (): void => {
    frames++;
    frame.number = frames;
    const caplen = words[2]!;
    frame.caplen = caplen > SNAP_BUFFER ? SNAP_BUFFER : caplen;
    frame.origLen = words[3]!;
    frame.ts = words[0]! * 1000 + words[1]! / 1000;
    onFrame(frame);
  };
  try {
    const reported = session.open_offline(path, '', 0, SNAP_BUFFER, '', onPacket, false, 1000, () => {}, false);
    dlt = parseLinkType(reported);
  } catch (e) {
    const why = describeError(e);
    const hint = format === 'unknown' ? 'is not a pcap or pcapng capture' : 'cannot be read as a capture';
    const h = await hashed();
    return { path, sha256: typeof h === 'string' ? h : '', size, format, dlt: -1, linkType: '', frames: 0, status: 'unreadable', problem: `${hint} (libpcap: ${why})` };
  }
  frame.dlt = dlt;
  let rc: number;
  try {
    rc = session.dispatch(data, header);
  } finally {
    session.close();
  }
  const h = await hashed();
  if (typeof h !== 'string') return unreadable(path, size, `cannot be read: ${h.error}`);
  const result: FileReadResult = { path, sha256: h, size, format, dlt, linkType: linkTypeName(dlt), frames, status: 'ok' };
  if (rc === -1) {
    result.status = 'partial';
    result.problem = format === 'pcap'
      ? diagnoseClassicPcap(path, frames)
      : `libpcap reported a read error after frame ${frames} (truncated or corrupt block)`;
  }
  return result;
}

function unreadable(path: string, size: number, problem: string): FileReadResult {
  return { path, sha256: '', size, format: 'unknown', dlt: -1, linkType: '', frames: 0, status: 'unreadable', problem };
}

export function assertReadable(path: string): void {
  try {
    statSync(path);
  } catch (e) {
    throw new GoipwatchError(ErrorCodes.InputUnreadable, `${path}: ${describeError(e)}`, { path });
  }
}
