/**
 * SIP over TCP: cut one direction of a reassembled stream into whole messages (RFC 3261 §18.3).
 *
 *   bytes ─► [CRLF keep-alives] ─► start line? ──no──► garbage: skip to the next line that starts like SIP
 *                                       │yes
 *                                       ▼
 *                              head up to the empty line ─► Content-Length ─► head + body = one message
 *
 * On a stream the message length comes only from Content-Length, which RFC 3261 §20.14 makes
 * mandatory there; when it is missing we read 0 and say so. RFC 5626 §4.4.1 keep-alives (a
 * "\r\n\r\n" ping, a "\r\n" pong) and the CRLFs RFC 3261 §7.5 lets a sender put before a start
 * line are skipped between messages. Memory is bounded by `maxBuffered`: a message that cannot fit
 * is dropped (its body skipped as it arrives) with an error, never buffered.
 */
import { contentLengthOf, countLeadingLineBreaks, findHeadEnd, parseSipHead, sipStartMatch } from './parser.js';

export type FramedSip = { message: Buffer; frames: number[] } | { error: string; frames: number[] };

/** Frame numbers kept per error (a long garbage run may span many segments). */
const MAX_ERROR_FRAMES = 32;
const DEFAULT_MAX_BUFFERED = 64 * 1024;

interface GarbageRun {
  bytes: number;
  frames: number[];
  /** Already reported (it followed a dropped oversize head): do not report it twice. */
  reported: boolean;
}

export class SipStreamFramer {
  private readonly maxBuffered: number;
  private store: Buffer = Buffer.alloc(0);
  private used = 0;
  /** Which frame carried the buffered bytes: runs ending (exclusive) at `end`, in order. */
  private spans: Array<{ frame: number; end: number }> = [];
  /** Bytes of an oversize message still to come and be dropped unread. */
  private skipRemaining = 0;
  /** Bytes being discarded until a line that starts like SIP. */
  private garbage: GarbageRun | null = null;
  /** The last discarded byte was not a LF: the next start line can only follow a LF. */
  private midLine = false;
  /** Up to here the buffer has been searched for an empty line without finding one. */
  private headScannedTo = 0;

  constructor(opts: { maxBuffered?: number } = {}) {
    this.maxBuffered = opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  }

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.used;
  }

  /** In-order bytes of one direction. `chunk` is copied: the caller may reuse it. */
  push(chunk: Buffer, frame: number): FramedSip[] {
    const out: FramedSip[] = [];
    if (chunk.length === 0) return out;
    this.append(chunk, frame);
    while (this.step(out)) {
      // each step consumed something; loop until a step needs more bytes
    }
    return out;
  }

  /** End of the stream: report what was pending (a garbage run, an incomplete message). */
  end(): FramedSip[] {
    const out: FramedSip[] = [];
    this.flushGarbage(out);
    // After a step the buffer holds nothing, or the (partial) start of a message that never completed.
    if (this.used > 0) {
      out.push({ error: 'stream ended inside a SIP message', frames: this.take(this.used) });
    }
    this.skipRemaining = 0;
    this.midLine = false;
    return out;
  }

  /** One step of the reader; false when it must wait for more bytes. */
  private step(out: FramedSip[]): boolean {
    if (this.used === 0) return false;
    const view = this.store.subarray(0, this.used);

    if (this.skipRemaining > 0) {
      const n = Math.min(this.skipRemaining, this.used);
      this.take(n);
      this.skipRemaining -= n;
      return true;
    }
    if (this.midLine) {
      const nl = view.indexOf(0x0a);
      this.discard(nl === -1 ? this.used : nl + 1);
      this.midLine = nl === -1;
      return !this.midLine;
    }
    const breaks = countLeadingLineBreaks(view);
    if (breaks > 0) {
      // Keep-alives between messages are not garbage; inside a garbage run they are just skipped too.
      this.take(breaks);
      return true;
    }

    const start = sipStartMatch(view);
    if (start === 'more') return false;
    if (start === 'no') {
      this.resynchronise(view);
      return true;
    }
    return this.readMessage(view, out);
  }

  /** The buffer starts with a SIP start line: wait for its head and body, or drop it if it cannot fit. */
  private readMessage(view: Buffer, out: FramedSip[]): boolean {
    const split = findHeadEnd(view, Math.max(0, this.headScannedTo - 3));
    if (split === null) {
      this.headScannedTo = this.used;
      if (this.used <= this.maxBuffered) return false;
      const lastByte = view[this.used - 1];
      this.flushGarbage(out);
      out.push({ error: 'SIP head longer than the buffer without an empty line; dropped', frames: this.take(this.used) });
      // What follows is the rest of that head: skip it quietly until the next start line.
      this.garbage = { bytes: 0, frames: [], reported: true };
      this.midLine = lastByte !== 0x0a;
      return true;
    }
    this.flushGarbage(out);

    const head = parseSipHead(view.toString('utf8', 0, split.headEnd));
    // An unreadable head cannot be framed: hand it on alone (the analyzer reports why); any body resynchronises.
    const declared = 'error' in head ? 0 : contentLengthOf(head.headers);
    const missing = declared === undefined;
    const bodyLength = typeof declared === 'number' ? declared : 0;
    const total = split.bodyStart + bodyLength;

    if (total > this.maxBuffered) {
      const n = Math.min(total, this.used);
      out.push({ error: 'SIP message larger than the buffer; dropped', frames: this.take(n) });
      this.skipRemaining = total - n;
      return true;
    }
    if (this.used < total) return false;

    const message = Buffer.from(view.subarray(0, total));
    const frames = this.take(total);
    out.push({ message, frames });
    if (missing) out.push({ error: 'no Content-Length on a stream transport (RFC 3261 §18.3); read as 0', frames });
    return true;
  }

  /** Discard up to the next line that starts (or may start) like SIP, counting the run as garbage. */
  private resynchronise(view: Buffer): void {
    let nl = view.indexOf(0x0a);
    while (nl !== -1) {
      const lineStart = nl + 1 + countLeadingLineBreaks(view, nl + 1);
      if (lineStart === view.length || sipStartMatch(view, lineStart) !== 'no') {
        this.discard(lineStart);
        return;
      }
      nl = view.indexOf(0x0a, lineStart);
    }
    // No line break: all of it is garbage, and the next bytes continue that same line.
    this.discard(view.length);
    this.midLine = true;
  }

  private discard(n: number): void {
    const frames = this.take(n);
    const run = this.garbage ?? (this.garbage = { bytes: 0, frames: [], reported: false });
    run.bytes += n;
    for (const f of frames) {
      if (run.frames.length < MAX_ERROR_FRAMES && run.frames[run.frames.length - 1] !== f) run.frames.push(f);
    }
  }

  /** Close the garbage run, if any, adding its error to `out` unless it was already reported. */
  private flushGarbage(out: FramedSip[]): void {
    const run = this.garbage;
    this.garbage = null;
    if (run === null || run.reported || run.bytes === 0) return;
    // Stable reason text: reasons are counted by their exact wording.
    out.push({ error: 'bytes that are not SIP skipped before the next start line', frames: run.frames });
  }

  private append(chunk: Buffer, frame: number): void {
    const need = this.used + chunk.length;
    if (need > this.store.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.store.length * 2, 1024));
      this.store.copy(bigger, 0, 0, this.used);
      this.store = bigger;
    }
    chunk.copy(this.store, this.used);
    this.used = need;
    const last = this.spans[this.spans.length - 1];
    if (last !== undefined && last.frame === frame) last.end = need;
    else this.spans.push({ frame, end: need });
  }

  /** Remove the first `n` buffered bytes; returns the frames that carried them. */
  private take(n: number): number[] {
    const frames: number[] = [];
    let start = 0;
    let whole = 0;
    for (const span of this.spans) {
      if (start >= n) break;
      if (frames[frames.length - 1] !== span.frame) frames.push(span.frame);
      if (span.end <= n) whole++;
      start = span.end;
    }
    this.spans.splice(0, whole);
    for (const span of this.spans) span.end -= n;
    this.store.copyWithin(0, n, this.used);
    this.used -= n;
    this.headScannedTo = 0;
    // Give back a buffer that a burst made large once it is empty again.
    if (this.used === 0 && this.store.length > 2 * this.maxBuffered) this.store = Buffer.alloc(0);
    return frames;
  }
}
