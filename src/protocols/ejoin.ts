/**
 * Ejoin / SkyLine (also sold as "YX GP") multi-port gateways and SIM pools: the HTTP JSON API
 * (goip-protocols.md §2.2; "Skyline HTTP API V2.4.0" as summarised by three independent clients).
 *
 *   gateway ──POST <url the server set>──► collector    {"type":"dev-status","mac":..,"max-ports":8,"status":[{slot}..]}
 *   gateway ──POST <sms_url>───────────► collector    {"type":"recv-sms","sms_num":N,"sms":[[dr,port,ts,from,to,b64]..]}
 *   gateway ──POST <sr_url>────────────► collector    {"type":"status-report","rpt_num":N,"rpts":[..]}
 *   SMS server ──GET|POST /goip_*.html?username=..&password=..──► gateway    (JSON reply, e.g. a dev-status)
 *
 * So the gateway is the HTTP client of a push and the HTTP server of a /goip_*.html call.
 * The generic HTTP analyzer (http.ts) may run on the same connection: it reads heads, this one only
 * reports Ejoin facts. Passwords in query strings are never copied out.
 */
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../capture/stream.js';
import type { AnalyzerResult, EjoinApiObservation, EjoinSimSlot, Endpoint, Malformed } from './types.js';

/** Bound on one HTTP body we read; larger bodies are skipped by their length. */
export const EJOIN_MAX_BODY = 256 * 1024;
export const EJOIN_MAX_HEAD = 16 * 1024;
export const EJOIN_PUSH_TYPES: readonly string[] = ['dev-status', 'port-status', 'recv-sms', 'status-report'];
const PUSH_MARKER = /"type"\s*:\s*"(?:dev-status|port-status|recv-sms|status-report)"/;
const GOIP_PATH = /^\/goip_[a-z0-9_]+\.html$/i;

export interface HttpHead {
  isRequest: boolean;
  method?: string;
  target?: string;
  status?: number;
  /** Header names lowercased; the first occurrence wins. */
  headers: Map<string, string>;
}

export function parseHttpHead(text: string): HttpHead | null {
  const lines = text.split(/\r?\n/);
  const start = lines[0] ?? '';
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  const req = /^([A-Z]{3,10}) (\S+) HTTP\/\d\.\d$/.exec(start);
  if (req) return { isRequest: true, method: req[1], target: req[2], headers };
  const res = /^HTTP\/\d\.\d (\d{3})(?: .*)?$/.exec(start);
  if (res) return { isRequest: false, status: Number(res[1]), headers };
  return null;
}

export type ChunkedResult = { state: 'done'; body: Buffer; consumed: number } | { state: 'incomplete' } | { state: 'error'; reason: string };

/** RFC 9112 §7.1 chunked coding over what has arrived so far (extensions and trailers ignored). */
export function decodeChunked(buf: Buffer): ChunkedResult {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) return { state: 'incomplete' };
    const size = /^([0-9a-fA-F]{1,8})(?:[ \t]*;.*)?$/.exec(buf.toString('latin1', off, eol));
    if (!size) return { state: 'error', reason: 'bad chunk size line' };
    const n = parseInt(size[1] ?? '', 16);
    off = eol + 2;
    if (n === 0) {
      // Trailer fields until an empty line.
      for (;;) {
        const end = buf.indexOf('\r\n', off);
        if (end < 0) return { state: 'incomplete' };
        const empty = end === off;
        off = end + 2;
        if (empty) return { state: 'done', body: Buffer.concat(parts), consumed: off };
      }
    }
    if (buf.length < off + n + 2) return { state: 'incomplete' };
    parts.push(buf.subarray(off, off + n));
    off += n + 2;
  }
}

/** Strict base64 (Node's decoder silently skips junk) then UTF-8 that must be valid: the recv-sms text (§2.2). */
export function decodeBase64Utf8(value: string): string | null {
  const compact = value.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch (e) {
    if (e instanceof TypeError) return null; // not UTF-8: the caller reports the row
    throw e;
  }
}

/** `00-30-f1-00-b7-d5` → `00:30:f1:00:b7:d5`; other spellings are kept as sent. */
export function normaliseMac(mac: string): string {
  const hex = mac.replace(/[-:.]/g, '').toLowerCase();
  return /^[0-9a-f]{12}$/.test(hex) ? hex.replace(/(..)(?!$)/g, '$1:') : mac;
}

type EjoinFacts = Omit<EjoinApiObservation, 'kind' | 'device' | 'peer' | 'ts' | 'ref' | 'via'>;
/** What a JSON document said, and the parts that were skipped, each with its reason. */
export interface EjoinReading { facts: EjoinFacts; problems: string[] }

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.trim() || undefined : typeof v === 'number' ? String(v) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : undefined);

export function readSlot(raw: unknown): EjoinSimSlot | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  const port = text(o['port']);
  if (!port) return null;
  const slot: EjoinSimSlot = { port };
  const fields: Array<[keyof EjoinSimSlot, string | number | undefined]> = [
    ['imei', text(o['imei'])], ['iccid', text(o['iccid'])], ['imsi', text(o['imsi'])],
    ['status', num(o['st'])], ['operator', text(o['opr'])], ['signal', num(o['sig'])],
  ];
  for (const [k, v] of fields) if (v !== undefined) Object.assign(slot, { [k]: v });
  return slot;
}

/** A parsed JSON document of the API: dev-status / port-status / recv-sms / status-report or a command body. */
export function readEjoinJson(doc: unknown): EjoinReading | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const o = doc as Record<string, unknown>;
  const facts: EjoinFacts = { slots: [], sms: [] };
  const problems: string[] = [];
  const type = text(o['type']);
  const mac = text(o['mac']);
  const op = text(o['op']);
  if (type) facts.type = type;
  if (op) facts.op = op;
  if (mac) facts.mac = normaliseMac(mac);
  const scalars: Array<[keyof EjoinFacts, string | number | undefined]> = [
    ['maxPorts', num(o['max-ports'])], ['maxSlot', num(o['max-slot']) ?? num(o['max-slots'])],
    ['firmwareVersion', text(o['ver'])], ['deviceIp', text(o['ip'])],
  ];
  for (const [k, v] of scalars) if (v !== undefined) Object.assign(facts, { [k]: v });
  // dev-status carries status[]; a port-status (format not in our sources) is read as one slot if it has `port`.
  const slots = Array.isArray(o['status']) ? o['status'] : type === 'port-status' && o['port'] !== undefined ? [o] : [];
  slots.forEach((raw, i) => {
    const slot = readSlot(raw);
    if (slot) facts.slots.push(slot);
    else problems.push(`status[${i}] is not a slot object with a port`);
  });
  if (type === 'recv-sms') {
    const rows = o['sms'];
    if (!Array.isArray(rows)) problems.push('recv-sms without an sms array');
    else rows.forEach((row, i) => readSmsRow(row, i, facts, problems));
  }
  return { facts, problems };
}

/** `[dr, port, ts, from, to, content]`: dr = 1 is a delivery report whose content is "code scts", not base64 text. */
function readSmsRow(row: unknown, i: number, facts: EjoinFacts, problems: string[]): void {
  if (!Array.isArray(row) || row.length < 6) return void problems.push(`sms[${i}] is not a 6-element row`);
  if (num(row[0]) === 1) {
    facts.deliveryReports = (facts.deliveryReports ?? 0) + 1;
    return;
  }
  const port = text(row[1]);
  const from = text(row[3]);
  const content = typeof row[5] === 'string' ? decodeBase64Utf8(row[5]) : null;
  if (!port || from === undefined) return void problems.push(`sms[${i}] without port or sender`);
  if (content === null) return void problems.push(`sms[${i}] content is not base64 UTF-8`);
  const to = text(row[4]);
  facts.sms.push({ port, from, ...(to ? { to } : {}), text: content });
}

/** `sim_imei(n)=IMEI&...` body of /goip_send_cmd.html?op=set (IMEI rewrite, SkyLine API §6.4.3 summary). */
export function readImeiSet(body: string): Array<{ index: number; imei: string }> {
  const out: Array<{ index: number; imei: string }> = [];
  for (const pair of body.trim().split('&')) {
    const m = /^sim_imei\((\d{1,4})\)=(\d{14,16})$/.exec(pair.trim());
    if (m) out.push({ index: Number(m[1]), imei: m[2] ?? '' });
  }
  return out;
}

interface Direction {
  buf: Buffer;
  frames: number[];
  head?: HttpHead;
  /** Body framing of the current message once its head is read. */
  mode?: 'length' | 'chunked' | 'close';
  length: number;
  skip: number;
  stopped: boolean;
}

interface PendingRequest {
  method: string;
  path?: string;
}

class EjoinStreamAnalyzer implements StreamAnalyzer {
  readonly protocol = 'ejoin';
  private readonly dirs = { client: this.newDirection(), server: this.newDirection() };
  /** Requests awaiting their response, in order (HTTP/1.1 pipelining); bounded. */
  private readonly pending: PendingRequest[] = [];
  private lastTs: number;

  constructor(private readonly conn: TcpConnectionInfo) {
    this.lastTs = conn.ts;
  }

  private newDirection(): Direction {
    return { buf: Buffer.alloc(0), frames: [], length: 0, skip: 0, stopped: false };
  }

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    const result: AnalyzerResult = { observations: [] };
    const dir = fromClient ? this.dirs.client : this.dirs.server;
    if (dir.stopped || data.length === 0) return result;
    this.lastTs = ts;
    dir.buf = Buffer.concat([dir.buf, data]); // copies: the capture layer reuses `data`
    if (dir.frames[dir.frames.length - 1] !== frame) dir.frames.push(frame);
    for (let s = this.step(dir, result, ts); s !== 'wait' && !dir.stopped; s = this.step(dir, result, ts)) {
      // What is left after a whole message came in this segment (a message ends in the segment that completes it).
      if (s === 'message') dir.frames = dir.buf.length ? [frame] : [];
    }
    return result;
  }

  end(): AnalyzerResult {
    const result: AnalyzerResult = { observations: [] };
    for (const dir of [this.dirs.client, this.dirs.server]) {
      if (dir.stopped) continue;
      if (dir.head && dir.mode === 'close') this.message(dir, dir.buf, result, this.lastTs);
      else if (dir.head || dir.buf.length) this.malformed(result, dir.frames, 'unfinished HTTP message at end of stream');
      Object.assign(dir, this.newDirection());
    }
    return result;
  }

  /** One framing step: a whole message (or skipped body) consumed, a head read, or waiting for bytes. */
  private step(dir: Direction, result: AnalyzerResult, ts: number): 'message' | 'head' | 'wait' {
    if (dir.skip > 0) {
      const n = Math.min(dir.skip, dir.buf.length);
      dir.skip -= n;
      dir.buf = dir.buf.subarray(n);
      return dir.skip === 0 ? 'message' : 'wait';
    }
    if (!dir.head) return this.readHead(dir, result, ts);
    if (dir.mode === 'length' && dir.buf.length >= dir.length) {
      const body = dir.buf.subarray(0, dir.length);
      dir.buf = dir.buf.subarray(dir.length);
      this.message(dir, body, result, ts);
      return 'message';
    }
    if (dir.mode === 'chunked') {
      const r = decodeChunked(dir.buf);
      if (r.state === 'done') {
        dir.buf = dir.buf.subarray(r.consumed);
        this.message(dir, r.body, result, ts);
        return 'message';
      }
      if (r.state === 'error' || dir.buf.length > EJOIN_MAX_BODY + 4096) this.stop(dir, result, r.state === 'error' ? r.reason : 'chunked body over the bound');
      return 'wait';
    }
    if (dir.mode === 'close' && dir.buf.length > EJOIN_MAX_BODY) this.stop(dir, result, 'body without length over the bound');
    return 'wait';
  }

  private readHead(dir: Direction, result: AnalyzerResult, ts: number): 'message' | 'head' | 'wait' {
    // Bare-LF heads exist in this field (GoIP's LibHTTPD, §1.5): both head ends are accepted.
    const crlf = dir.buf.indexOf('\r\n\r\n');
    const lf = dir.buf.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
    if (end < 0) {
      if (dir.buf.length > EJOIN_MAX_HEAD) this.stop(dir, result, 'no HTTP head end within the bound');
      return 'wait';
    }
    const head = parseHttpHead(dir.buf.toString('latin1', 0, end));
    dir.buf = dir.buf.subarray(end + (end === crlf ? 4 : 2));
    if (!head) {
      this.stop(dir, result, 'not an HTTP message head');
      return 'wait';
    }
    dir.head = head;
    const cl = head.headers.get('content-length');
    const prior = head.isRequest ? undefined : this.pending[0];
    if (/chunked/i.test(head.headers.get('transfer-encoding') ?? '')) dir.mode = 'chunked';
    else if (cl !== undefined) {
      if (!/^\d{1,12}$/.test(cl)) {
        this.stop(dir, result, 'bad Content-Length');
        return 'wait';
      }
      dir.mode = 'length';
      dir.length = Number(cl);
      if (dir.length > EJOIN_MAX_BODY) {
        this.malformed(result, dir.frames, `body over ${EJOIN_MAX_BODY} bytes: skipped`);
        dir.skip = dir.length;
        this.message(dir, null, result, ts);
        return dir.skip > 0 ? 'head' : 'message';
      }
    } else if (head.isRequest || prior?.method === 'HEAD' || head.status === 204 || head.status === 304 || (head.status ?? 0) < 200) {
      dir.mode = 'length';
      dir.length = 0;
    } else dir.mode = 'close';
    return 'head';
  }

  /** A whole request or response (`body` null when it was too large to read). */
  private message(dir: Direction, body: Buffer | null, result: AnalyzerResult, ts: number): void {
    const head = dir.head;
    dir.head = undefined;
    dir.mode = undefined;
    if (!head) return;
    if (head.isRequest) return this.request(head, body, dir.frames, result, ts);
    if ((head.status ?? 0) < 200) return; // interim (100 Continue): the final response follows
    const req = this.pending.shift();
    if (!req?.path || !body || !body.toString('utf8').trimStart().startsWith('{')) return;
    const json = this.json(body, dir.frames, result, `reply to ${req.path}`);
    // A dev-status is also the reply to GET /goip_get_status.html (the code-index client in §2.2 reads it so).
    if (json && json.facts.type && EJOIN_PUSH_TYPES.includes(json.facts.type)) {
      this.emit(result, dir.frames, ts, 'request', this.conn.server, this.conn.client, { path: req.path, ...json.facts });
    }
  }

  private request(head: HttpHead, body: Buffer | null, frames: number[], result: AnalyzerResult, ts: number): void {
    const method = head.method ?? '';
    let url: URL;
    try {
      url = new URL(head.target ?? '', 'http://gateway.invalid');
    } catch (e) {
      if (this.pending.length < 32) this.pending.push({ method }); // keeps replies paired with requests
      this.malformed(result, frames, `request target is not a URL (${e instanceof Error ? e.name : 'error'})`);
      return;
    }
    const goip = GOIP_PATH.test(url.pathname);
    if (this.pending.length < 32) this.pending.push({ method, ...(goip ? { path: url.pathname } : {}) });
    if (goip) {
      // Called on the gateway (HTTP server): record path, user and op; the password stays in the packet.
      const facts: EjoinFacts = { path: url.pathname, slots: [], sms: [] };
      const user = url.searchParams.get('username');
      const op = url.searchParams.get('op');
      if (user) facts.user = user;
      if (op) facts.op = op;
      const bodyText = body ? body.toString('utf8').trim() : '';
      // Command bodies are JSON ({"type":"command","op":"switch",...}) or, for op=set, `sim_imei(n)=...` pairs.
      const json = body && bodyText.startsWith('{') ? this.json(body, frames, result, url.pathname) : null;
      if (json) Object.assign(facts, json.facts, { path: url.pathname });
      const imeiSet = readImeiSet(bodyText);
      if (imeiSet.length) facts.imeiSet = imeiSet;
      this.emit(result, frames, ts, 'request', this.conn.server, this.conn.client, facts);
      return;
    }
    if (method !== 'POST' || !body) return;
    const bodyText = body.toString('utf8');
    if (!PUSH_MARKER.test(bodyText)) return; // someone else's POST on this connection
    const json = this.json(body, frames, result, 'push');
    if (json) this.emit(result, frames, ts, 'push', this.conn.client, this.conn.server, { path: url.pathname, ...json.facts });
  }

  /** JSON.parse with the failure reported (never a silent catch), and skipped parts reported one by one. */
  private json(body: Buffer, frames: number[], result: AnalyzerResult, what: string): EjoinReading | null {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (e) {
      this.malformed(result, frames, `${what}: body is not JSON (${e instanceof Error ? e.name : 'error'})`);
      return null;
    }
    const reading = readEjoinJson(doc);
    if (!reading) {
      this.malformed(result, frames, `${what}: JSON body is not an object`);
      return null;
    }
    for (const p of reading.problems) this.malformed(result, frames, `${what}: ${p.replace(/\[\d+\]/, '[]')}`);
    return reading;
  }

  private emit(result: AnalyzerResult, frames: number[], ts: number, via: 'push' | 'request', device: Endpoint, peer: Endpoint, facts: EjoinFacts): void {
    result.observations.push({ kind: 'ejoin-api', device, peer, ts, ref: { file: this.conn.fileIndex, frames: [...frames] }, via, ...facts });
  }

  private stop(dir: Direction, result: AnalyzerResult, reason: string): void {
    this.malformed(result, dir.frames, `${reason}: rest of the direction ignored`);
    Object.assign(dir, this.newDirection(), { stopped: true });
  }

  private malformed(result: AnalyzerResult, frames: number[], reason: string): void {
    const m: Malformed = { protocol: this.protocol, reason, ref: { file: this.conn.fileIndex, frames: [...frames] } };
    (result.malformed ??= []).push(m);
  }
}

export const ejoinStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'ejoin',
  /**
   * Specific on purpose (http.ts claims HTTP in general): a request to /goip_*.html, or a POST whose body shows a
   * push type. A POST whose first segment is a JSON head alone is claimed too, since its body (and type) only
   * arrives in the next segment and the choice is made on the first bytes.
   */
  detect(firstData: Buffer, fromClient: boolean): boolean {
    if (!fromClient) return false;
    const head = firstData.toString('latin1', 0, Math.min(firstData.length, 2048));
    const m = /^([A-Z]{3,7}) (?:https?:\/\/[^/\s]+)?(\/\S*) HTTP\/1\.[01]\r?\n/.exec(head);
    if (!m) return false;
    if (/^\/goip_[a-z0-9_]+\.html(?:[?#]|$)/i.test(m[2] ?? '')) return true;
    if (m[1] !== 'POST') return false;
    if (PUSH_MARKER.test(head)) return true;
    const end = /\r?\n\r?\n/.exec(head);
    return end !== null && end.index + end[0].length === firstData.length && /^content-type:[^\r\n]*json/im.test(head);
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new EjoinStreamAnalyzer(conn);
  },
};
