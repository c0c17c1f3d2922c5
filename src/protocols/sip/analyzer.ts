/**
 * SIP analyzer: one whole message (a UDP datagram, or one message framed off a TCP stream) → one
 * SipObservation about its sender.
 *
 *   UDP datagram ───────────────────────────────┐
 *   TCP stream ─► SipStreamFramer (per direction)┴─► analyzeSip ─► parseSipMessage ─► SipObservation
 *                                                                   └─ SDP body ─► summarizeSdp
 *
 * What the detectors read from it: User-Agent/Server (GoIP says `dble`, goip-protocols.md §1.4),
 * the REGISTER address-of-record (one AoR per GSM channel in "Config by Line" mode), reason
 * phrases such as the GoIP's `480 Remote Busy`, and the SDP offer.
 */
import type { StreamAnalyzer, StreamAnalyzerFactory, TcpConnectionInfo } from '../../capture/stream.js';
import { summarizeSdp } from '../sdp.js';
import type { AnalyzerResult, Malformed, Observation, PacketContext, SipObservation } from '../types.js';
import { SipStreamFramer, type FramedSip } from './framing.js';
import { countLeadingLineBreaks, headerValue, looksLikeSip, parseSipMessage, sipStartMatch } from './parser.js';

/** One SIP message → observation; null when the payload does not start like SIP. */
export function analyzeSip(payload: Buffer, ctx: PacketContext): AnalyzerResult | null {
  if (!looksLikeSip(payload)) return null;
  const msg = parseSipMessage(payload);
  if ('error' in msg) {
    return { observations: [], malformed: [{ protocol: 'sip', reason: msg.error, ref: ctx.ref }] };
  }
  const h = msg.headers;
  const obs: SipObservation = {
    kind: 'sip',
    device: ctx.src,
    peer: ctx.dst,
    ts: ctx.ts,
    ref: ctx.ref,
    isRequest: msg.isRequest,
    headerNames: [...new Set(h.map(([name]) => name))],
  };
  if (msg.method !== undefined) obs.method = msg.method;
  if (msg.requestUri !== undefined) obs.requestUri = msg.requestUri;
  if (msg.status !== undefined) obs.status = msg.status;
  if (msg.reason !== undefined) obs.reason = msg.reason;
  setIfPresent(obs, 'callId', headerValue(h, 'call-id'));
  setIfPresent(obs, 'cseq', headerValue(h, 'cseq'));
  setIfPresent(obs, 'from', headerValue(h, 'from'));
  setIfPresent(obs, 'to', headerValue(h, 'to'));
  setIfPresent(obs, 'contact', headerValue(h, 'contact'));
  setIfPresent(obs, 'userAgent', headerValue(h, 'user-agent'));
  setIfPresent(obs, 'server', headerValue(h, 'server'));
  const via = headerValue(h, 'via');
  // A Via header may carry several hops separated by commas (RFC 3261 §7.3.1); the first is the sender's.
  if (via !== undefined) obs.via = firstListElement(via);
  if (msg.method?.toUpperCase() === 'REGISTER' && obs.to !== undefined) {
    const aor = addressOfRecord(obs.to);
    if (aor !== undefined) obs.aor = aor;
  }

  if (isSdpBody(headerValue(h, 'content-type'), msg.body)) {
    const sdp = summarizeSdp(msg.body.toString('utf8'));
    if ('error' in sdp) obs.sdpError = sdp.error;
    else obs.sdp = sdp;
  }
  return { observations: [obs] };
}

function setIfPresent<K extends 'callId' | 'cseq' | 'from' | 'to' | 'contact' | 'userAgent' | 'server'>(
  obs: SipObservation,
  key: K,
  value: string | undefined,
): void {
  if (value !== undefined) obs[key] = value;
}

function isSdpBody(contentType: string | undefined, body: Buffer): boolean {
  if (body.length === 0) return false;
  if (contentType !== undefined) {
    const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
    if (mediaType === 'application/sdp') return true;
  }
  // Some stacks omit or mislabel Content-Type; an SDP body always opens with "v=0" (RFC 4566 §5.1).
  return body.subarray(0, 3).toString('latin1') === 'v=0';
}

/** First element of a comma-separated header value, ignoring commas inside quotes and <>. */
function firstListElement(value: string): string {
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle = true;
    else if (!quoted && c === '>') angle = false;
    else if (c === ',' && !quoted && !angle) return value.slice(0, i).trim();
  }
  return value.trim();
}

/**
 * The URI of a To/From value without display name, URI parameters or header parameters:
 * `Bob <sips:bob@biloxi.example.com;transport=tls>;tag=x` → `sips:bob@biloxi.example.com`
 * (name-addr / addr-spec, RFC 3261 §20.10, §25.1).
 */
export function addressOfRecord(value: string): string | undefined {
  const lt = findUnquoted(value, '<');
  if (lt === null) return undefined;
  let uri: string;
  if (lt !== -1) {
    const gt = value.indexOf('>', lt + 1);
    if (gt === -1) return undefined;
    uri = value.slice(lt + 1, gt);
  } else {
    // Without <>, everything after the first ';' is a header parameter (RFC 3261 §20.10).
    uri = value.split(';')[0] ?? '';
  }
  uri = (uri.split(';')[0] ?? '').split('?')[0] ?? '';
  uri = uri.trim();
  return uri === '' ? undefined : uri;
}

/** Index of `ch` outside quoted strings, -1 when absent, null when a quoted string never ends. */
function findUnquoted(value: string, ch: string): number | null {
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ch && !quoted) return i;
  }
  return quoted ? null : -1;
}

/** SIP over TCP: a framer per direction, each framed message through analyzeSip. */
export const sipStreamAnalyzer: StreamAnalyzerFactory = {
  protocol: 'sip',
  detect(firstData: Buffer): boolean {
    // Either side may speak first; a sender may precede its first message with CRLFs (RFC 3261 §7.5).
    return sipStartMatch(firstData, countLeadingLineBreaks(firstData)) === 'yes';
  },
  create(conn: TcpConnectionInfo): StreamAnalyzer {
    return new SipStreamSession(conn);
  },
};

class SipStreamSession implements StreamAnalyzer {
  readonly protocol = 'sip';
  private readonly fromClient = new SipStreamFramer();
  private readonly fromServer = new SipStreamFramer();

  constructor(private readonly conn: TcpConnectionInfo) {}

  push(fromClient: boolean, data: Buffer, frame: number, ts: number): AnalyzerResult {
    const framer = fromClient ? this.fromClient : this.fromServer;
    return this.analyze(fromClient, framer.push(data, frame), ts);
  }

  end(): AnalyzerResult {
    const client = this.analyze(true, this.fromClient.end(), this.conn.ts);
    const server = this.analyze(false, this.fromServer.end(), this.conn.ts);
    return mergeResults(client, server);
  }

  private analyze(fromClient: boolean, framed: FramedSip[], ts: number): AnalyzerResult {
    const observations: Observation[] = [];
    const malformed: Malformed[] = [];
    for (const item of framed) {
      const ref = { file: this.conn.fileIndex, frames: item.frames };
      if ('error' in item) {
        malformed.push({ protocol: 'sip', reason: item.error, ref });
        continue;
      }
      const ctx: PacketContext = {
        src: fromClient ? this.conn.client : this.conn.server,
        dst: fromClient ? this.conn.server : this.conn.client,
        transport: 'tcp',
        ts,
        ref,
      };
      const result = analyzeSip(item.message, ctx);
      if (result === null) continue;
      observations.push(...result.observations);
      if (result.malformed !== undefined) malformed.push(...result.malformed);
    }
    return malformed.length > 0 ? { observations, malformed } : { observations };
  }
}

function mergeResults(a: AnalyzerResult, b: AnalyzerResult): AnalyzerResult {
  const malformed = [...(a.malformed ?? []), ...(b.malformed ?? [])];
  const observations = [...a.observations, ...b.observations];
  return malformed.length > 0 ? { observations, malformed } : { observations };
}
