/**
 * HTTP/1.x heads over a reassembled TCP connection: who serves what (Server, WWW-Authenticate realm,
 * page <title>), who asks for which path, and whether the header block uses bare LF line ends.
 *
 *   each direction: [CRLF*] head (≤ 8 KiB) ─► observation ─► body: Content-Length | chunked | to close
 *                                                               └─ response: first 4 KiB sniffed for <title>
 *
 * Why bare LF matters: GoIP firmware bundles LibHTTPD 1.3, whose responses start "HTTP/1.0 " and end
 * every header line with "\n" only (goip-protocols.md §1.5); ordinary servers send CRLF (RFC 9112 §2.1).
 * Memory per direction is bounded: the head (8 KiB), the title window (4 KiB), one chunk-size line.
 */
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../capture/stream.js';
import { countLeadingLineBreaks, findHeadEnd } from './sip/parser.js';
import type { AnalyzerResult, Endpoint, HttpObservation, Malformed, Observation } from './types.js';

const MAX_HEAD = 8 * 1024;
const TITLE_WINDOW = 4 * 1024;
const MAX_CHUNK_LINE = 1024;
const MAX_REF_FRAMES = 32;
const MAX_PENDING_REQUESTS = 32;

const REQUEST_OPENINGS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'].map((m) => Buffer.from(`${m} /`, 'latin1'));
const RESPONSE_OPENING = Buffer.from('HTTP/1.', 'latin1');

function startsWith(buf: Buffer, prefix: Buffer, offset = 0): boolean {
  return buf.length - offset >= prefix.length && buf.compare(prefix, 0, prefix.length, offset, offset + prefix.length) === 0;
}

export const httpStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'http',
  detect(firstData: Buffer): boolean {
    // The first sender may have been misjudged when the handshake was not captured: accept either opening.
    return startsWith(firstData, RESPONSE_OPENING) || REQUEST_OPENINGS.some((p) => startsWith(firstData, p));
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new HttpSession(conn);
  },
};

/** A parsed head: start line and header fields (names lowercased). */
interface HttpHead {
  isResponse: boolean;
  method?: string;
  target?: string;
  status?: number;
  headers: Array<[string, string]>;
}

type BodyPhase =
  | { kind: 'head' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunk-size'; line: number[] }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'chunk-end' }
  | { kind: 'trailers' }
  | { kind: 'to-close' }
  | { kind: 'stop' };

/** A response observation held back until its <title> is found or the window is full. */
interface PendingResponse {
  obs: HttpObservation;
  sniff: Buffer[];
  sniffed: number;
}

/** Sink for what a direction reader finds; the session owns the request/response pairing. */
interface Emit {
  observations: Observation[];
  malformed: Malformed[];
}

class HttpSession implements StreamAnalyzer {
  readonly protocol = 'http';
  private readonly readers: Record<'client' | 'server', DirectionReader>;
  /** Methods of requests not yet answered, to know which responses have no body (HEAD, RFC 9112 §6.3). */
  readonly requestMethods: string[] = [];

  constructor(private readonly conn: TcpConnectionInfo) {
    this.readers = {
      client: new DirectionReader(this, conn.client, conn.server),
      server: new DirectionReader(this, conn.server, conn.client),
    };
  }

  get fileIndex(): number {
    return this.conn.fileIndex;
  }

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    const emit: Emit = { observations: [], malformed: [] };
    this.readers[fromClient ? 'client' : 'server'].push(data, frame, ts, emit);
    return toResult(emit);
  }

  end(): AnalyzerResult {
    const emit: Emit = { observations: [], malformed: [] };
    this.readers.client.end(emit);
    this.readers.server.end(emit);
    return toResult(emit);
  }
}

function toResult(emit: Emit): AnalyzerResult {
  return emit.malformed.length > 0 ? { observations: emit.observations, malformed: emit.malformed } : { observations: emit.observations };
}

/** One direction of the connection: heads, then bodies skipped by their framing. */
class DirectionReader {
  private phase: BodyPhase = { kind: 'head' };
  private head: Buffer[] = [];
  private headBytes = 0;
  private frames: number[] = [];
  private pending: PendingResponse | null = null;
  /** Frame of the bytes being read now, for errors found in a body. */
  private currentFrame = 0;

  constructor(
    private readonly session: HttpSession,
    private readonly sender: Endpoint,
    private readonly receiver: Endpoint,
  ) {}

  push(data: Buffer, frame: number, ts: number, emit: Emit): void {
    let at = 0;
    this.currentFrame = frame;
    while (at < data.length && this.phase.kind !== 'stop') {
      if (this.phase.kind === 'head') {
        if (this.headBytes === 0) {
          // RFC 9112 §2.2: a recipient may ignore empty lines before a start line.
          at += countLeadingLineBreaks(data, at);
          if (at >= data.length) break;
        }
        addFrame(this.frames, frame);
        at = this.readHead(data, at, ts, emit);
      } else {
        at = this.readBody(data, at, frame, emit);
      }
    }
  }

  end(emit: Emit): void {
    if (this.phase.kind === 'head' && this.headBytes > 0) {
      emit.malformed.push({ protocol: 'http', reason: 'connection ended inside an HTTP head', ref: this.ref() });
    }
    this.flushPending(emit);
    this.phase = { kind: 'stop' };
  }

  /** Collect head bytes; on the empty line parse and emit, and return where the body starts. */
  private readHead(data: Buffer, at: number, ts: number, emit: Emit): number {
    const room = MAX_HEAD - this.headBytes;
    const piece = data.subarray(at, at + room);
    // Copy: the capture layer reuses `data` after push returns.
    this.head.push(Buffer.from(piece));
    this.headBytes += piece.length;
    const buf = Buffer.concat(this.head, this.headBytes);
    if (!startsLikeHttp(buf)) return this.stopInHead('not an HTTP start line', emit, data.length);
    const split = findHeadEnd(buf);
    if (split === null) {
      if (this.headBytes < MAX_HEAD) return at + piece.length;
      return this.stopInHead('HTTP head longer than 8 KiB; rest of this direction not read', emit, data.length);
    }
    const headText = buf.toString('latin1', 0, split.headEnd);
    // LibHTTPD's mark: no line of the block, the empty one included, ends in CRLF (so it ends "\n\n").
    const bareLf = buf.subarray(0, split.bodyStart).indexOf('\r\n') === -1;
    const consumed = split.bodyStart - (this.headBytes - piece.length);
    const head = parseHead(headText);
    if (head === null) return this.stopInHead('not an HTTP start line', emit, data.length);
    this.head = [];
    this.headBytes = 0;
    this.onHead(head, bareLf, ts, emit);
    return at + consumed;
  }

  /** A head that cannot be read: report it, free it, and read nothing more in this direction. */
  private stopInHead(reason: string, emit: Emit, at: number): number {
    emit.malformed.push({ protocol: 'http', reason, ref: this.ref() });
    this.head = [];
    this.headBytes = 0;
    this.phase = { kind: 'stop' };
    return at;
  }

  private onHead(head: HttpHead, bareLf: boolean, ts: number, emit: Emit): void {
    const ref = this.ref();
    this.frames = [];
    const obs: HttpObservation = head.isResponse
      ? { kind: 'http', device: this.sender, peer: this.receiver, ts, ref, isResponse: true, bareLf }
      : { kind: 'http', device: this.receiver, peer: this.sender, ts, ref, isResponse: false, bareLf };
    if (head.isResponse) {
      if (head.status !== undefined) obs.status = head.status;
      const server = header(head, 'server');
      if (server !== undefined) obs.server = server;
      const realm = realmOf(head);
      if (realm !== undefined) obs.realm = realm;
    } else {
      if (head.method !== undefined) obs.method = head.method;
      // The query string is left out: APIs of these devices carry user names and passwords there (§2.2).
      if (head.target !== undefined) obs.path = head.target.split('?')[0] ?? head.target;
      const methods = this.session.requestMethods;
      if (methods.length < MAX_PENDING_REQUESTS) methods.push(head.method ?? '');
    }
    this.phase = this.bodyPhase(head);
    const encoded = (header(head, 'content-encoding') ?? 'identity').toLowerCase() !== 'identity';
    const hasBody = this.phase.kind !== 'head' && this.phase.kind !== 'stop';
    if (head.isResponse && hasBody && !encoded) {
      this.pending = { obs, sniff: [], sniffed: 0 };
    } else {
      emit.observations.push(obs);
    }
  }

  /** How the body after this head is delimited (RFC 9112 §6.3). */
  private bodyPhase(head: HttpHead): BodyPhase {
    const te = (header(head, 'transfer-encoding') ?? '').toLowerCase();
    const cl = header(head, 'content-length');
    const length = cl !== undefined && /^\d{1,15}$/.test(cl) ? Number(cl) : undefined;
    if (head.isResponse) {
      const status = head.status ?? 0;
      // Interim 1xx answers (except 101) do not answer the request; the final response does.
      if (status >= 100 && status < 200 && status !== 101) return { kind: 'head' };
      const method = this.session.requestMethods.shift();
      if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) return { kind: 'stop' };
      if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'head' };
      if (te.includes('chunked')) return { kind: 'chunk-size', line: [] };
      if (length !== undefined) return length === 0 ? { kind: 'head' } : { kind: 'length', remaining: length };
      return { kind: 'to-close' };
    }
    if (te.includes('chunked')) return { kind: 'chunk-size', line: [] };
    return length !== undefined && length > 0 ? { kind: 'length', remaining: length } : { kind: 'head' };
  }

  /** Skip (and sniff) body bytes according to the current phase; returns the new offset. */
  private readBody(data: Buffer, at: number, frame: number, emit: Emit): number {
    const phase = this.phase;
    switch (phase.kind) {
      case 'length': {
        const n = Math.min(phase.remaining, data.length - at);
        this.sniff(data.subarray(at, at + n), frame, emit);
        phase.remaining -= n;
        if (phase.remaining === 0) this.bodyDone(emit);
        return at + n;
      }
      case 'to-close': {
        this.sniff(data.subarray(at), frame, emit);
        return data.length;
      }
      case 'chunk-data': {
        const n = Math.min(phase.remaining, data.length - at);
        this.sniff(data.subarray(at, at + n), frame, emit);
        phase.remaining -= n;
        if (phase.remaining === 0) this.phase = { kind: 'chunk-end' };
        return at + n;
      }
      case 'chunk-size':
      case 'chunk-end':
      case 'trailers':
        return this.readChunkLine(data, at, emit);
      case 'head':
      case 'stop':
        return at;
    }
  }

  /** Lines of the chunked coding (RFC 9112 §7.1): size line, CRLF after data, trailer section. */
  private readChunkLine(data: Buffer, at: number, emit: Emit): number {
    const phase = this.phase;
    if (phase.kind === 'chunk-end') {
      // The CRLF after chunk data; tolerate a bare LF.
      const nl = data.indexOf(0x0a, at);
      if (nl === -1) return data.length;
      this.phase = { kind: 'chunk-size', line: [] };
      return nl + 1;
    }
    const line = phase.kind === 'chunk-size' ? phase.line : [];
    const nl = data.indexOf(0x0a, at);
    const end = nl === -1 ? data.length : nl;
    if (phase.kind === 'chunk-size') {
      for (let i = at; i < end && line.length <= MAX_CHUNK_LINE; i++) line.push(data[i] ?? 0);
      if (line.length > MAX_CHUNK_LINE) return this.giveUp('chunk-size line too long', emit, data.length);
      if (nl === -1) return data.length;
      const text = Buffer.from(line).toString('latin1').split(';')[0]?.trim() ?? '';
      if (!/^[0-9a-fA-F]{1,8}$/.test(text)) return this.giveUp('bad chunk-size line', emit, data.length);
      const size = parseInt(text, 16);
      this.phase = size === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', remaining: size };
      return nl + 1;
    }
    // Trailer section: header lines until an empty line ends the message.
    if (nl === -1) return data.length;
    const empty = end === at || (end === at + 1 && data[at] === 0x0d);
    if (empty) this.bodyDone(emit);
    return nl + 1;
  }

  private giveUp(reason: string, emit: Emit, at: number): number {
    emit.malformed.push({ protocol: 'http', reason, ref: { file: this.session.fileIndex, frames: [this.currentFrame] } });
    this.flushPending(emit);
    this.phase = { kind: 'stop' };
    return at;
  }

  private bodyDone(emit: Emit): void {
    this.flushPending(emit);
    this.phase = { kind: 'head' };
  }

  /** Keep the first TITLE_WINDOW body bytes of a held response until its <title> shows. */
  private sniff(bytes: Buffer, frame: number, emit: Emit): void {
    const pending = this.pending;
    if (pending === null || bytes.length === 0) return;
    const piece = bytes.subarray(0, TITLE_WINDOW - pending.sniffed);
    pending.sniff.push(Buffer.from(piece));
    pending.sniffed += piece.length;
    addFrame(pending.obs.ref.frames, frame);
    const title = titleOf(Buffer.concat(pending.sniff, pending.sniffed));
    if (title !== undefined) pending.obs.title = title;
    if (title !== undefined || pending.sniffed >= TITLE_WINDOW) this.flushPending(emit);
  }

  private flushPending(emit: Emit): void {
    if (this.pending === null) return;
    emit.observations.push(this.pending.obs);
    this.pending = null;
  }

  private ref(): { file: number; frames: number[] } {
    return { file: this.session.fileIndex, frames: [...this.frames] };
  }
}

function addFrame(frames: number[], frame: number): void {
  if (frames.length < MAX_REF_FRAMES && frames[frames.length - 1] !== frame) frames.push(frame);
}

/** False as soon as the first bytes cannot open a request or response line, so binary data is not buffered. */
function startsLikeHttp(buf: Buffer): boolean {
  const text = buf.toString('latin1', 0, Math.min(buf.length, 8));
  if (text.length < 8) return /^(?:H(?:T(?:T(?:P(?:\/\d?)?)?)?)?$|[A-Z]{1,7}(?: |$))/.test(text);
  return /^(?:HTTP\/\d|[A-Z]{1,7} )/.test(text);
}

const RESPONSE_LINE = /^HTTP\/\d\.\d (\d{3})(?: .*)?$/;
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/\d\.\d$/;

/** Start line and header fields of a head (latin1 text, without the empty line); null when it is not HTTP. */
export function parseHead(text: string): HttpHead | null {
  const lines = text.split(/\r?\n/);
  const startLine = lines[0] ?? '';
  const response = RESPONSE_LINE.exec(startLine);
  const request = response === null ? REQUEST_LINE.exec(startLine) : null;
  if (response === null && request === null) return null;
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const last = headers[headers.length - 1];
    // obs-fold (RFC 9112 §5.2): a continuation line joins the previous value with one SP.
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  if (response !== null) return { isResponse: true, status: Number(response[1]), headers };
  return { isResponse: false, method: request?.[1] ?? '', target: request?.[2] ?? '', headers };
}

function header(head: HttpHead, name: string): string | undefined {
  for (const [n, v] of head.headers) if (n === name) return v;
  return undefined;
}

/** realm of the first WWW-Authenticate challenge that has one (RFC 7235 §2.2), quoted or token form. */
function realmOf(head: HttpHead): string | undefined {
  for (const [name, value] of head.headers) {
    if (name !== 'www-authenticate') continue;
    const m = /realm\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/i.exec(value);
    if (m !== null) return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
  }
  return undefined;
}

/** Text of the first <title> element in a body prefix, whitespace collapsed, at most 200 characters. */
export function titleOf(body: Buffer): string | undefined {
  // latin1 maps bytes 1:1 to characters, so string offsets are byte offsets for the UTF-8 decode below.
  const text = body.toString('latin1');
  const open = /<title\b[^>]*>/i.exec(text);
  if (open === null) return undefined;
  const from = open.index + open[0].length;
  const close = text.slice(from).search(/<\/title\s*>/i);
  if (close === -1) return undefined;
  const title = body.toString('utf8', from, from + close).replace(/\s+/g, ' ').trim();
  return title.slice(0, 200);
}
