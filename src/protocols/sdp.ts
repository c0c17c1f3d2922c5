/**
 * SDP (RFC 4566) summary for the detectors: who made the offer (o=), where media goes (c=, m=),
 * which codecs and packet time, and whether SDES keys (a=crypto, RFC 4568) are present.
 *
 *   text ──sdp-transform.parse──► session object ──► SdpSummary { origin, sessionName, connection, media[] }
 *
 * Why these fields: the GoIP offer has a fixed origin template `o=userX 20000001 20000001 IN IP4 …`,
 * `m=audio … RTP/AVP 8 0 18 4 101` with ptime 20, and with its proprietary media encryption on it
 * says RTP/SAVP without any a=crypto (goip-protocols.md §1.4 and §4, [RE] only).
 */
import { parse as parseSdp } from 'sdp-transform';
import { describeError } from '../errors.js';
import type { SdpSummary } from './types.js';

/** RFC 3551 §6 static payload types (audio and video) by number. */
const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'PCMU'], [3, 'GSM'], [4, 'G723'], [5, 'DVI4'], [6, 'DVI4'], [7, 'LPC'], [8, 'PCMA'], [9, 'G722'],
  [10, 'L16'], [11, 'L16'], [12, 'QCELP'], [13, 'CN'], [14, 'MPA'], [15, 'G728'], [16, 'DVI4'],
  [17, 'DVI4'], [18, 'G729'], [25, 'CelB'], [26, 'JPEG'], [28, 'nv'], [31, 'H261'], [32, 'MPV'],
  [33, 'MP2T'], [34, 'H263'],
]);

/** SDP body text → summary, or why it cannot be used. Never throws. */
export function summarizeSdp(text: string): SdpSummary | { error: string } {
  // RFC 4566 §5: a description starts with v=; anything else is not SDP at all.
  if (!/^\s*v=/.test(text)) return { error: 'SDP does not start with v=' };

  let session: ReturnType<typeof parseSdp>;
  try {
    session = parseSdp(text);
  } catch (e) {
    return { error: `sdp-transform could not parse the SDP: ${describeError(e)}` };
  }

  // sdp-transform skips lines its grammar does not match, so a broken o= or m= line leaves holes
  // that the typings do not show; check each field before using it.
  const summary: SdpSummary = { media: [] };
  const origin = readOrigin(session.origin);
  if (origin !== undefined) summary.origin = origin;
  if (typeof session.name === 'string') summary.sessionName = session.name;
  const connection = session.connection?.ip ?? session.media.find((m) => m.connection?.ip !== undefined)?.connection?.ip;
  // RFC 4566 §5.7: a multicast address carries "/ttl[/count]"; the summary keeps the address.
  if (typeof connection === 'string') summary.connection = connection.split('/')[0] ?? connection;

  for (const [index, media] of session.media.entries()) {
    if (typeof media.type !== 'string' || media.type === '' || typeof media.port !== 'number') {
      return { error: `m= line ${index + 1} is not "<media> <port> <proto> <fmt>…"` };
    }
    // Payload formats are numbers for RTP profiles; others (e.g. "t38" under udptl) are not payload types.
    const payloads = String(media.payloads ?? '')
      .split(' ')
      .filter((p) => /^\d{1,3}$/.test(p))
      .map(Number);
    const entry: SdpSummary['media'][number] = {
      type: media.type,
      port: media.port,
      protocol: String(media.protocol ?? ''),
      payloads,
      codecs: codecNames(payloads, media.rtp ?? []),
      crypto: (media.crypto ?? []).length > 0,
    };
    if (typeof media.ptime === 'number') entry.ptime = media.ptime;
    const mc = media.connection?.ip;
    if (typeof mc === 'string' && mc !== '') entry.connection = mc.split('/')[0] ?? mc;
    const rtpmap = (media.rtp ?? [])
      .filter((r) => typeof r.payload === 'number' && typeof r.codec === 'string' && r.codec !== '')
      .slice(0, 32)
      .map((r) => ({ pt: r.payload, codec: r.codec, ...(typeof r.rate === 'number' && r.rate > 0 ? { rate: r.rate } : {}) }));
    if (rtpmap.length > 0) entry.rtpmap = rtpmap;
    summary.media.push(entry);
  }

  if (summary.origin === undefined && summary.media.length === 0) {
    return { error: 'SDP has neither a readable o= line nor any m= line' };
  }
  return summary;
}

function readOrigin(origin: unknown): SdpSummary['origin'] {
  if (typeof origin !== 'object' || origin === null) return undefined;
  const o = origin as Record<string, unknown>;
  if (o['username'] === undefined || o['address'] === undefined) return undefined;
  // sdp-transform turns digit strings into numbers only when that is lossless, so String() gives back the text.
  return {
    username: String(o['username']),
    sessionId: String(o['sessionId'] ?? ''),
    sessionVersion: String(o['sessionVersion'] ?? ''),
    address: String(o['address']),
  };
}

/** Codec name per payload type, in m= order: a=rtpmap wins, else the RFC 3551 static table; unnamed ones are left out. */
function codecNames(payloads: number[], rtpmap: ReadonlyArray<{ payload: number; codec: string }>): string[] {
  const names: string[] = [];
  for (const pt of payloads) {
    const mapped = rtpmap.find((r) => r.payload === pt)?.codec;
    const name = typeof mapped === 'string' && mapped !== '' ? mapped : STATIC_PAYLOAD_TYPES.get(pt);
    if (name !== undefined) names.push(name);
  }
  return names;
}
