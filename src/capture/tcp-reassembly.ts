/**
 * Bounded TCP stream reassembly: segments in capture order → in-order bytes per direction for a
 * TcpStreamConsumer (src/capture/stream.ts).
 *
 *   push(segment)
 *     │ head of the LRU list idle > idleTimeoutMs? ──► close('timeout')      (one compare per push)
 *     ▼
 *   key = 4-tuple, same for both directions
 *     ├─ in the ignored set ──► return                      (the cheap path for uninteresting TCP)
 *     ├─ unknown, SYN or payload ──► handler.open(info) ──null──► ignored set
 *     ▼
 *   StreamDirection (client→server or server→client)
 *     ├─ seq == next expected ──► consumer.data(view, no copy), then drain the buffered
 *     ├─ seq behind ──► retransmission: only the bytes not yet delivered go on
 *     └─ seq ahead ──► buffer a copy; over maxOutOfOrderBytes ──► consumer.gap(), skip the hole
 *     ▼
 *   FIN both ways / RST ──► consumer.close()        LRU over maxConnections ──► close('evicted')
 *
 * Sequence numbers are compared modulo 2^32 (RFC 9293 §3.4, formerly RFC 793 §3.3): a stream may
 * wrap mid-capture. Memory is bounded per direction (maxOutOfOrderBytes, MAX_PENDING_SEGMENTS),
 * across connections (maxBufferedBytes), and in count (maxConnections, maxIgnored).
 */
import type { Endpoint } from '../protocols/types.js';
import { ErrorCodes, GoipwatchError } from '../errors.js';
import type { TcpCloseReason, TcpConnectionInfo, TcpStreamConsumer, TcpStreamHandler } from './stream.js';

export interface TcpReassemblyOptions {
  /** Live connections; the least recently active is closed with 'evicted' for a new one. Integer ≥ 1, default 4096. */
  maxConnections?: number;
  /** Out-of-order bytes buffered per direction; over it the first hole is skipped (gap()). Default 256 KiB. */
  maxOutOfOrderBytes?: number;
  /** Capture-time inactivity after which a connection is closed with 'timeout', ms. Default 300_000. */
  idleTimeoutMs?: number;
  /** Ignored (and recently closed) connections remembered, oldest forgotten first. Default 16384. */
  maxIgnored?: number;
  /** Out-of-order bytes across all connections (plus a per-segment overhead). Default 32 MiB. */
  maxBufferedBytes?: number;
  /** Told about each exception a consumer or the handler threw (after the connection was dropped), for logging. */
  onConsumerError?: (error: unknown, conn: TcpConnectionInfo) => void;
}

export interface TcpSegment {
  fileIndex: number;
  srcIp: string; dstIp: string; srcPort: number; dstPort: number;
  /** Sequence and acknowledgment numbers as unsigned 32-bit values. */
  seq: number; ack: number;
  syn: boolean; fin: boolean; rst: boolean; ackFlag: boolean;
  /** TCP payload; may be a view into a reused capture buffer. */
  payload: Buffer;
  frame: number; ts: number;
  srcMac?: string; dstMac?: string;
}

export interface TcpReassemblyStats {
  segments: number;
  connections: number; // offered to the handler
  ignored: number; // declined by the handler or the consumer
  outOfOrder: number; // arrived ahead of a hole and were buffered
  retransmitted: number; // carried bytes already delivered (wholly, or partly with a new tail)
  gaps: number; gapBytes: number; evicted: number; timedOut: number;
  consumerErrors: number; // exceptions from the handler or a consumer; that connection is then ignored
}

/** Rough cost of one buffered segment beyond its bytes (object, Buffer and ArrayBuffer headers). */
const SEGMENT_OVERHEAD = 128;
/**
 * Buffered segments per direction before the first hole is skipped anyway: insertion and draining
 * are linear in it, so a flood of 1-byte segments must not make them quadratic. 256 KiB of
 * full-size segments is under 200 of them.
 */
const MAX_PENDING_SEGMENTS = 1024;

/**
 * Ports a gateway or its controller listens on above 1023: SIP (5060/5061), Asterisk AMI (5038,
 * Yeastar/OpenVox SMS API), HTTP alternates. A server there often speaks first (AMI banner), so
 * without the handshake the first sender would otherwise be taken for the client.
 */
const KNOWN_SERVER_PORTS = new Set([5060, 5061, 5038, 8080, 8000, 8088]);
function isServerPort(port: number): boolean {
  return port < 1024 || KNOWN_SERVER_PORTS.has(port);
}

/** a − b modulo 2^32 as a signed 32-bit number: < 0 when a comes before b (RFC 9293 §3.4). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

interface BufferedSegment { seq: number; data: Buffer; frame: number; ts: number }

/** One direction of a connection: the receiver's view of the sender's byte stream. */
class StreamDirection {
  /** nextSeq is known (from the SYN, or the first segment with data or FIN in this direction). */
  init = false;
  /** Sequence number of the next byte to deliver (RCV.NXT in RFC 9293 terms). */
  nextSeq = 0;
  /** Segments ahead of nextSeq, sorted by seq (modulo 2^32 relative to nextSeq). */
  pending: BufferedSegment[] = [];
  pendingBytes = 0;
  /** finSeq: the sequence number the FIN occupies; finished once every byte before it is delivered. */
  finSeen = false; finSeq = 0; finished = false;

  /** Fixes where the stream starts, unless already known. */
  startAt(seq: number): void {
    if (this.init) return;
    this.init = true;
    this.nextSeq = seq;
  }
}

class TcpConnection {
  prev: TcpConnection | null = null;
  next: TcpConnection | null = null;
  readonly fromClient = new StreamDirection();
  readonly fromServer = new StreamDirection();
  /** Dropped from the table (closed, ignored or failed): deliver nothing more. */
  dead = false;

  /** clientSynSeq: the client's SYN sequence number when the connection started with one, else -1. */
  constructor(
    readonly key: string, readonly info: TcpConnectionInfo, readonly consumer: TcpStreamConsumer,
    readonly clientSynSeq: number, public lastTs: number,
  ) {}
}

function checkLimit(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new GoipwatchError(ErrorCodes.Config, `TCP reassembly option ${name} must be an integer ≥ ${min}`, { [name]: value });
  }
  return value;
}

function endpoint(ip: string, port: number, mac: string | undefined): Endpoint {
  const ep: Endpoint = { ip, port };
  if (mac !== undefined) ep.mac = mac;
  return ep;
}

export class TcpReassembler {
  readonly stats: TcpReassemblyStats = {
    segments: 0, connections: 0, ignored: 0, outOfOrder: 0, retransmitted: 0, gaps: 0, gapBytes: 0, evicted: 0, timedOut: 0, consumerErrors: 0,
  };

  private readonly maxConnections: number;
  private readonly maxOutOfOrderBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly maxIgnored: number;
  private readonly maxBufferedBytes: number;
  private readonly onConsumerError: ((error: unknown, conn: TcpConnectionInfo) => void) | undefined;
  private readonly connections = new Map<string, TcpConnection>();
  /** Key → file index of ignored or closed connections; insertion order, oldest forgotten first. */
  private readonly ignored = new Map<string, number>();
  /** Least recently active first: the LRU victim and the first candidate for an idle timeout. */
  private lruHead: TcpConnection | null = null;
  private lruTail: TcpConnection | null = null;
  private bufferedBytes = 0;

  constructor(private readonly handler: TcpStreamHandler, opts: TcpReassemblyOptions = {}) {
    this.maxConnections = checkLimit('maxConnections', opts.maxConnections, 4096, 1);
    this.maxOutOfOrderBytes = checkLimit('maxOutOfOrderBytes', opts.maxOutOfOrderBytes, 256 * 1024, 0);
    this.idleTimeoutMs = checkLimit('idleTimeoutMs', opts.idleTimeoutMs, 300_000, 0);
    this.maxIgnored = checkLimit('maxIgnored', opts.maxIgnored, 16384, 0);
    this.maxBufferedBytes = checkLimit('maxBufferedBytes', opts.maxBufferedBytes, 32 * 1024 * 1024, 0);
    this.onConsumerError = opts.onConsumerError;
  }

  /** Live connections held now (never more than maxConnections). */
  get size(): number {
    return this.connections.size;
  }

  push(seg: TcpSegment): void {
    this.stats.segments++;
    // The LRU head is the least recently active connection, so checking it alone finds every
    // idle one in turn: O(1) per push, no scan. (Capture time that steps backwards only delays it.)
    while (this.lruHead !== null && seg.ts - this.lruHead.lastTs > this.idleTimeoutMs) {
      this.stats.timedOut++;
      this.close(this.lruHead, 'timeout');
    }

    const { srcIp, dstIp, srcPort, dstPort } = seg;
    const key = srcIp < dstIp || (srcIp === dstIp && srcPort < dstPort)
      ? `${srcIp}|${srcPort}|${dstIp}|${dstPort}`
      : `${dstIp}|${dstPort}|${srcIp}|${srcPort}`;
    // A SYN without ACK (not a retransmitted one) starts a new connection on a known 4-tuple: port reuse.
    const newSyn = seg.syn && !seg.ackFlag;
    let conn = this.connections.get(key);
    if (conn !== undefined) {
      // Frame numbers are per file, so a connection never spans two input files.
      if (conn.info.fileIndex !== seg.fileIndex || (newSyn && seg.seq !== conn.clientSynSeq)) {
        this.close(conn, 'end');
        conn = undefined;
      } else if (conn !== this.lruTail) {
        this.unlink(conn);
        this.append(conn);
      }
    } else {
      const ignoredIn = this.ignored.get(key);
      if (ignoredIn !== undefined) {
        if (ignoredIn === seg.fileIndex && !newSyn) return;
        this.ignored.delete(key);
      }
    }
    if (conn === undefined) {
      // A bare ACK, FIN or RST of a connection we never saw carries nothing to deliver; opening on
      // it would also resurrect every connection from its trailing ACKs.
      if (!seg.syn && seg.payload.length === 0) return;
      const opened = this.open(key, seg);
      if (opened === null) return;
      conn = opened;
    }
    conn.lastTs = seg.ts;
    this.segment(conn, seg);
  }

  /** End of input: deliver what is buffered (skipping holes) and close every connection with 'end'. */
  flush(): void {
    while (this.lruHead !== null) this.close(this.lruHead, 'end');
    this.ignored.clear();
  }

  private open(key: string, seg: TcpSegment): TcpConnection | null {
    // Client = sender of a SYN without ACK; the sender of a SYN-ACK is the server. Without the
    // handshake the first sender is taken as client, unless it sends from a well-known port
    // (< 1024) to an ephemeral one: then it is the server answering.
    const senderIsClient = seg.syn ? !seg.ackFlag : !(isServerPort(seg.srcPort) && !isServerPort(seg.dstPort));
    const sender = endpoint(seg.srcIp, seg.srcPort, seg.srcMac);
    const receiver = endpoint(seg.dstIp, seg.dstPort, seg.dstMac);
    const info: TcpConnectionInfo = {
      client: senderIsClient ? sender : receiver,
      server: senderIsClient ? receiver : sender,
      fileIndex: seg.fileIndex,
      firstFrame: seg.frame,
      ts: seg.ts,
      handshakeSeen: seg.syn,
    };
    this.stats.connections++;
    let consumer: TcpStreamConsumer | null;
    try {
      consumer = this.handler.open(info);
    } catch (e) {
      this.remember(key, seg.fileIndex);
      this.failed(e, info);
      return null;
    }
    if (consumer === null) {
      this.stats.ignored++;
      this.remember(key, seg.fileIndex);
      return null;
    }
    if (this.connections.size >= this.maxConnections && this.lruHead !== null) {
      this.stats.evicted++;
      this.close(this.lruHead, 'evicted');
    }
    const conn = new TcpConnection(key, info, consumer, seg.syn && !seg.ackFlag ? seg.seq : -1, seg.ts);
    this.connections.set(key, conn);
    this.append(conn);
    return conn;
  }

  private segment(conn: TcpConnection, seg: TcpSegment): void {
    const fromClient = seg.srcPort === conn.info.client.port && seg.srcIp === conn.info.client.ip;
    if (seg.rst) {
      // RST aborts both directions at once (RFC 9293 §3.10.7.4); its payload, if any, is
      // diagnostic text, not stream data (§3.5.3).
      this.close(conn, 'rst');
      return;
    }
    const dir = fromClient ? conn.fromClient : conn.fromServer;
    let seq = seg.seq >>> 0;
    if (seg.syn) {
      // The SYN occupies one sequence number: data starts at ISN+1 (RFC 9293 §3.4).
      seq = (seq + 1) >>> 0;
      dir.startAt(seq);
      // A SYN-ACK acknowledges the client's ISN+1, which starts the client's stream even when
      // the client's SYN was not captured.
      if (!fromClient && seg.ackFlag) conn.fromClient.startAt(seg.ack >>> 0);
    }
    const len = seg.payload.length;
    if (len > 0 && !dir.finished) {
      // Mid-stream start: the first segment with data fixes the stream's origin. (A bare ACK is
      // not trusted for it: a keep-alive probe carries SND.NXT−1, RFC 9293 §3.8.4.)
      dir.startAt(seq);
      this.data(conn, dir, fromClient, seq, seg.payload, seg.frame, seg.ts);
      if (conn.dead) return;
    }
    if (seg.fin && !dir.finSeen) {
      dir.finSeen = true;
      dir.finSeq = (seq + len) >>> 0;
      dir.startAt(dir.finSeq);
    }
    // A FIN that overtook data finishes its direction only once the hole before it is filled.
    if (dir.finSeen && !dir.finished && seqDiff(dir.nextSeq, dir.finSeq) >= 0) {
      dir.finished = true;
      this.discard(dir); // anything still buffered lies past the FIN: no receiver would take it
    }
    if (conn.fromClient.finished && conn.fromServer.finished) this.close(conn, 'fin');
  }

  private data(conn: TcpConnection, dir: StreamDirection, fromClient: boolean, seq: number, payload: Buffer, frame: number, ts: number): void {
    const len = payload.length;
    // Bytes of this segment already delivered: > 0 for a retransmission, < 0 when a hole precedes it.
    const done = seqDiff(dir.nextSeq, seq);
    if (done >= 0) {
      if (done >= len) {
        this.stats.retransmitted++;
        return;
      }
      // A retransmission that also carries new bytes: deliver only the new tail, so every byte
      // goes on exactly once whatever the sender's repacketisation.
      if (done > 0) this.stats.retransmitted++;
      dir.nextSeq = (seq + len) >>> 0;
      // The in-order fast path: hand the capture buffer's view straight on, no copy.
      if (!this.deliver(conn, fromClient, done === 0 ? payload : payload.subarray(done), frame, ts)) return;
      if (dir.pending.length > 0) this.drain(conn, dir, fromClient);
      return;
    }
    this.stats.outOfOrder++;
    const pending = dir.pending;
    let i = pending.length;
    while (i > 0 && seqDiff(pending[i - 1]!.seq, seq) > 0) i--;
    const before = pending[i - 1];
    if (before !== undefined && seqDiff((before.seq + before.data.length) >>> 0, (seq + len) >>> 0) >= 0) {
      this.stats.retransmitted++; // already buffered whole
      return;
    }
    // Copy: `payload` is a view into a capture buffer reused for the next packet. allocUnsafeSlow
    // keeps the copy off Node's shared 8 KiB pool, which one held segment would otherwise pin.
    const copy = Buffer.allocUnsafeSlow(len);
    payload.copy(copy);
    pending.splice(i, 0, { seq, data: copy, frame, ts });
    dir.pendingBytes += len;
    this.bufferedBytes += len + SEGMENT_OVERHEAD;
    if (this.overBudget(dir)) this.skipHoles(conn, dir, fromClient, false);
  }

  /** Delivers buffered segments that the stream has reached, trimming what was delivered already. */
  private drain(conn: TcpConnection, dir: StreamDirection, fromClient: boolean): void {
    const pending = dir.pending;
    while (pending.length > 0) {
      const p = pending[0]!;
      const done = seqDiff(dir.nextSeq, p.seq);
      if (done < 0) return; // still a hole before it
      pending.shift();
      dir.pendingBytes -= p.data.length;
      this.bufferedBytes -= p.data.length + SEGMENT_OVERHEAD;
      if (done < p.data.length) {
        dir.nextSeq = (p.seq + p.data.length) >>> 0;
        if (!this.deliver(conn, fromClient, done === 0 ? p.data : p.data.subarray(done), p.frame, p.ts)) return;
      }
    }
  }

  /**
   * Gives up on the hole before the first buffered segment: reports it with gap() (frame = the
   * first frame after the hole) and delivers on. With `all`, until nothing is buffered; otherwise
   * until this direction and the whole reassembler are back under their budgets. Each push adds
   * to one direction only, so emptying that one is always enough to restore the global budget.
   */
  private skipHoles(conn: TcpConnection, dir: StreamDirection, fromClient: boolean, all: boolean): void {
    while (!conn.dead && dir.pending.length > 0 && (all || this.overBudget(dir))) {
      const first = dir.pending[0]!;
      const missing = seqDiff(first.seq, dir.nextSeq);
      this.stats.gaps++;
      this.stats.gapBytes += missing;
      try {
        conn.consumer.gap?.(fromClient, missing, first.frame);
      } catch (e) {
        this.consumerThrew(conn, e);
        return;
      }
      dir.nextSeq = first.seq;
      this.drain(conn, dir, fromClient);
    }
  }

  private overBudget(dir: StreamDirection): boolean {
    return dir.pendingBytes > this.maxOutOfOrderBytes || dir.pending.length > MAX_PENDING_SEGMENTS ||
      this.bufferedBytes > this.maxBufferedBytes;
  }

  /** Returns false when the connection is gone: the consumer declined it or threw. */
  private deliver(conn: TcpConnection, fromClient: boolean, data: Buffer, frame: number, ts: number): boolean {
    let wanted: boolean | void;
    try {
      wanted = conn.consumer.data(fromClient, data, frame, ts);
    } catch (e) {
      this.consumerThrew(conn, e);
      return false;
    }
    if (wanted === false) {
      this.stats.ignored++;
      this.drop(conn);
      this.remember(conn.key, conn.info.fileIndex);
      return false;
    }
    return true;
  }

  /** Delivers what is buffered (holes reported as gaps), drops the connection and tells the consumer. */
  private close(conn: TcpConnection, reason: TcpCloseReason): void {
    // Even after a RST, what was buffered had been sent: deliver it, holes reported as gaps.
    this.skipHoles(conn, conn.fromClient, true, true);
    this.skipHoles(conn, conn.fromServer, false, true);
    if (conn.dead) return;
    this.drop(conn);
    // Closed by the peers: remember the 4-tuple so trailing ACKs and retransmissions stay cheap
    // and do not start a new, mid-stream connection. A new SYN still reopens it.
    if (reason === 'fin' || reason === 'rst') this.remember(conn.key, conn.info.fileIndex);
    try {
      conn.consumer.close(reason);
    } catch (e) {
      this.failed(e, conn.info);
    }
  }

  private drop(conn: TcpConnection): void {
    conn.dead = true;
    this.connections.delete(conn.key);
    this.unlink(conn);
    this.discard(conn.fromClient);
    this.discard(conn.fromServer);
  }

  private discard(dir: StreamDirection): void {
    this.bufferedBytes -= dir.pendingBytes + SEGMENT_OVERHEAD * dir.pending.length;
    dir.pending = [];
    dir.pendingBytes = 0;
  }

  /** The consumer threw: drop the connection and ignore its 4-tuple thereafter. */
  private consumerThrew(conn: TcpConnection, error: unknown): void {
    this.drop(conn);
    this.remember(conn.key, conn.info.fileIndex);
    this.failed(error, conn.info);
  }

  private failed(error: unknown, info: TcpConnectionInfo): void {
    // Counted, and handed to the caller for its log: a broken analyzer must not stop the replay,
    // nor disappear without trace.
    this.stats.consumerErrors++;
    this.onConsumerError?.(error, info);
  }

  private remember(key: string, fileIndex: number): void {
    if (this.maxIgnored === 0) return;
    if (this.ignored.size >= this.maxIgnored) {
      const oldest = this.ignored.keys().next().value;
      if (oldest !== undefined) this.ignored.delete(oldest);
    }
    this.ignored.set(key, fileIndex);
  }

  private append(conn: TcpConnection): void {
    conn.prev = this.lruTail;
    conn.next = null;
    if (this.lruTail !== null) this.lruTail.next = conn; else this.lruHead = conn;
    this.lruTail = conn;
  }

  private unlink(conn: TcpConnection): void {
    if (conn.prev !== null) conn.prev.next = conn.next;
    else if (this.lruHead === conn) this.lruHead = conn.next;
    if (conn.next !== null) conn.next.prev = conn.prev;
    else if (this.lruTail === conn) this.lruTail = conn.prev;
    conn.prev = null;
    conn.next = null;
  }
}
