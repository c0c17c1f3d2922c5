/**
 * SIP message parser (RFC 3261 §7): start line, header fields, body. Pure functions over buffers.
 *
 *   bytes ──► [CRLF*] start-line ──► header lines (folded continuations joined) ──► empty line ──► body
 *                                           │
 *                                           └─ names lowercased, compact forms expanded (§7.3.3)
 *
 * It reads what is on the wire for a passive detector, so it is lenient where the meaning stays
 * clear (bare LF line ends, whitespace around the colon as in RFC 4475 §3.1.1.1) and gives a reason
 * where it is not (no start line, header line without a colon, a Content-Length that is not a number).
 * Reasons are fixed strings: the pipeline counts malformed payloads by their exact wording.
 */

/** A SIP request or response as read from the wire. */
export interface SipMessage {
  isRequest: boolean;
  method?: string;
  requestUri?: string;
  status?: number;
  reason?: string;
  /** In order; names lowercased, compact forms expanded, folded values joined with one SP. */
  headers: Array<[string, string]>;
  /** The body: Content-Length bytes when the header is there (fewer if the datagram is short), else the rest. A view into the input. */
  body: Buffer;
}

/** Compact header names (RFC 3261 §7.3.3 and §20; IANA "Header Fields" registry for the later ones). */
const COMPACT_HEADER_NAMES: Readonly<Record<string, string>> = {
  i: 'call-id', f: 'from', t: 'to', v: 'via', m: 'contact', l: 'content-length', c: 'content-type',
  k: 'supported', s: 'subject', e: 'content-encoding', o: 'event', r: 'refer-to', u: 'allow-events',
  x: 'session-expires', b: 'referred-by', a: 'accept-contact', j: 'reject-contact', y: 'identity',
  n: 'identity-info', d: 'request-disposition',
};

/** Methods that may open a SIP message (RFC 3261 §7.1 plus the extensions in common use). */
export const SIP_METHODS = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'PRACK', 'SUBSCRIBE', 'NOTIFY',
  'PUBLISH', 'MESSAGE', 'REFER', 'UPDATE',
] as const;

// Every prefix that starts a SIP message, as bytes, so the hot path never converts to a string.
const START_PREFIXES: Buffer[] = [Buffer.from('SIP/2.0 ', 'latin1'), ...SIP_METHODS.map((m) => Buffer.from(`${m} `, 'latin1'))];

/**
 * Does `buf` (from `offset`) begin like a SIP start line? 'yes', 'no', or 'more' when the bytes
 * present are a proper prefix of one of the openings and a stream reader must wait for more.
 */
export function sipStartMatch(buf: Buffer, offset = 0): 'yes' | 'no' | 'more' {
  const available = buf.length - offset;
  if (available <= 0) return 'more';
  let partial = false;
  for (const prefix of START_PREFIXES) {
    if (buf[offset] !== prefix[0]) continue;
    const n = Math.min(prefix.length, available);
    if (buf.compare(prefix, 0, n, offset, offset + n) !== 0) continue;
    if (n === prefix.length) return 'yes';
    partial = true;
  }
  return partial ? 'more' : 'no';
}

/** Cheap test run on every unclassified UDP datagram: "SIP/2.0 " or a known method and SP. */
export function looksLikeSip(payload: Buffer): boolean {
  return sipStartMatch(payload) === 'yes';
}

/** Number of CR/LF bytes at `offset` (keep-alives and the empty lines RFC 3261 §7.5 lets a reader skip). */
export function countLeadingLineBreaks(buf: Buffer, offset = 0): number {
  let i = offset;
  while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
  return i - offset;
}

/**
 * Where the header block ends: `headEnd` is just past the last header line's LF, `bodyStart` just
 * past the empty line. Accepts CRLF and bare LF. null when no empty line is in `buf` yet.
 */
export function findHeadEnd(buf: Buffer, offset = 0): { headEnd: number; bodyStart: number } | null {
  let nl = buf.indexOf(0x0a, offset);
  while (nl !== -1) {
    const next = buf[nl + 1];
    if (next === 0x0a) return { headEnd: nl + 1, bodyStart: nl + 2 };
    if (next === 0x0d && buf[nl + 2] === 0x0a) return { headEnd: nl + 1, bodyStart: nl + 3 };
    nl = buf.indexOf(0x0a, nl + 1);
  }
  return null;
}

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const RESPONSE_LINE = /^SIP\/(\d+\.\d+) (\d{3})(?: (.*))?$/i;

type StartLine = Pick<SipMessage, 'isRequest' | 'method' | 'requestUri' | 'status' | 'reason'>;

/** A header block (start line and header lines, without the empty line) as text. */
export function parseSipHead(head: string): (StartLine & { headers: Array<[string, string]> }) | { error: string } {
  const lines = head.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return { error: 'empty SIP message' };
  const start = parseStartLine(lines[0] ?? '');
  if ('error' in start) return start;

  const headers: Array<[string, string]> = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    // Folding (RFC 3261 §7.3.1): a line opening with SP or HTAB continues the previous value.
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = headers[headers.length - 1];
      if (last === undefined) return { error: 'continuation line before any header field' };
      const more = line.trim();
      if (more !== '') last[1] = last[1] === '' ? more : `${last[1]} ${more}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: 'header line without "name:"' };
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) return { error: 'header name is not a token' };
    const lower = rawName.toLowerCase();
    headers.push([COMPACT_HEADER_NAMES[lower] ?? lower, line.slice(colon + 1).trim()]);
  }
  return { ...start, headers };
}

function parseStartLine(line: string): StartLine | { error: string } {
  if (line.length >= 4 && line.slice(0, 4).toUpperCase() === 'SIP/') {
    const m = RESPONSE_LINE.exec(line);
    if (m === null) return { error: 'malformed status line' };
    if (m[1] !== '2.0') return { error: 'unsupported SIP version' };
    const status = Number(m[2]);
    // RFC 3261 §21: status codes are 100..699.
    if (status < 100 || status > 699) return { error: 'status code out of range' };
    return { isRequest: false, status, reason: (m[3] ?? '').trim() };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1): exactly three parts.
  const parts = line.split(' ');
  if (parts.length !== 3) return { error: 'start line is not "Method SP Request-URI SP SIP/2.0"' };
  const [method = '', requestUri = '', version = ''] = parts;
  if (!TOKEN.test(method)) return { error: 'method is not a token' };
  if (requestUri === '') return { error: 'empty Request-URI' };
  if (version.toUpperCase() !== 'SIP/2.0') return { error: 'unsupported SIP version' };
  return { isRequest: true, method, requestUri };
}

/** One datagram or one framed stream message → SipMessage, or the reason it could not be read. */
export function parseSipMessage(buf: Buffer): SipMessage | { error: string } {
  const start = countLeadingLineBreaks(buf);
  if (start === buf.length) return { error: 'empty SIP message' };
  // A datagram without the empty line is read as all header (some stacks omit it when there is no body).
  const split = findHeadEnd(buf, start) ?? { headEnd: buf.length, bodyStart: buf.length };
  const head = parseSipHead(buf.toString('utf8', start, split.headEnd));
  if ('error' in head) return head;

  const declared = contentLengthOf(head.headers);
  if (typeof declared === 'object') return declared;
  const available = buf.length - split.bodyStart;
  // RFC 3261 §18.3: bytes past Content-Length are not part of the message; a short datagram keeps what it has.
  const bodyLength = declared === undefined ? available : Math.min(declared, available);
  return { ...head, body: buf.subarray(split.bodyStart, split.bodyStart + bodyLength) };
}

/** The declared Content-Length (first one), undefined when absent, or why it cannot be used. */
export function contentLengthOf(headers: ReadonlyArray<readonly [string, string]>): number | undefined | { error: string } {
  const value = headerValue(headers, 'content-length');
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) return { error: 'Content-Length is not a number' };
  return Number(value);
}

/** First value of a header (name lowercased, long form). */
export function headerValue(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}
