/**
 * The per-port AT transcript: every byte line sent and received, plus notes on what the channel
 * did (timeout, resync, prompt abort), numbered so that a survey value can cite "line 42".
 *
 *   AtChannel ─► TranscriptRecorder ─┬─► TranscriptSink (store, file, log) — errors logged, never thrown
 *                                    └─► TranscriptRing (last N entries, for tests and `doctor`)
 *
 * Text dump format (one entry per line, UTF-8, "\n" between lines; `#` lines are comments):
 *
 *     n<TAB>wall<TAB>mono<TAB>dir<TAB>text
 *     42	2025-03-01T10:00:00.123Z	1234.567	rx	+CSQ: 17,99
 *
 *   n     1-based decimal, no sign, no leading zeros
 *   wall  ISO 8601 UTC as Date.toISOString() writes it (YYYY-MM-DDTHH:MM:SS.sssZ); on a Pi
 *         without RTC it may be 1970: the order is given by n and mono, not by wall
 *   mono  ms since the channel was created, a decimal with exactly 3 fraction digits (µs)
 *   dir   tx | rx | note
 *   text  escaped as in framing.ts escapeAtBytes: printable ASCII, `\\`, `\r`, `\n`, `\t`,
 *         `\xHH`; it therefore never holds a TAB or a line break. tx text is exactly the
 *         bytes written (`AT+CSQ\r`, `\x1B`); rx text is one framed line without its
 *         terminator, or the prompt (`> `); note text is ours (ASCII).
 *
 * formatTranscriptEntry and parseTranscriptLine are exact inverses for entries made here.
 */
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';
import type { Logger } from 'pino';
import type { TranscriptEntry } from './types.js';
import { escapeAtBytes, unescapeAtText } from './framing.js';

export type TranscriptSink = (entry: TranscriptEntry) => void;

/** A bounded ring of the last `capacity` entries. */
export class TranscriptRing {
  private readonly items: TranscriptEntry[] = [];
  private start = 0;

  constructor(readonly capacity = 2_000) {}

  push(e: TranscriptEntry): void {
    if (this.capacity <= 0) return;
    if (this.items.length < this.capacity) this.items.push(e);
    else {
      this.items[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  entries(): TranscriptEntry[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

/** Numbers and timestamps entries for one port and hands them to the sink and the ring. */
export class TranscriptRecorder {
  private n = 0;
  private readonly t0 = performance.now();
  readonly ring: TranscriptRing;

  constructor(
    private readonly sink: TranscriptSink | undefined,
    ringCapacity: number,
    private readonly log: Logger,
  ) {
    this.ring = new TranscriptRing(ringCapacity);
  }

  /** The number the next entry will get. */
  get nextLine(): number {
    return this.n + 1;
  }

  /** Bytes written to the module. */
  tx(bytes: Buffer): TranscriptEntry {
    return this.record('tx', escapeAtBytes(bytes));
  }

  /** A received line or prompt, already escaped by the framer. */
  rx(escapedText: string): TranscriptEntry {
    return this.record('rx', escapedText);
  }

  note(text: string): TranscriptEntry {
    return this.record('note', escapeAtBytes(Buffer.from(text, 'utf8')));
  }

  private record(dir: TranscriptEntry['dir'], text: string): TranscriptEntry {
    // Rounded to µs so that the text dump round-trips exactly.
    const mono = Math.round((performance.now() - this.t0) * 1000) / 1000;
    const entry: TranscriptEntry = { n: ++this.n, wall: new Date().toISOString(), mono, dir, text };
    this.ring.push(entry);
    if (this.sink) {
      try {
        this.sink(entry);
      } catch (e) {
        // A broken sink (full disk, closed store) must not stop the modem conversation.
        this.log.warn({ err: describeError(e), line: entry.n }, 'transcript sink failed');
      }
    }
    return entry;
  }
}

const WALL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MONO_RE = /^\d+\.\d{3}$/;
const N_RE = /^[1-9]\d*$/;

export function formatTranscriptEntry(e: TranscriptEntry): string {
  if (/[\t\r\n]/.test(e.text)) {
    throw new GoipwatchError(ErrorCodes.AtTranscript, `transcript entry ${e.n} has an unescaped TAB or line break`, { n: e.n });
  }
  return `${e.n}\t${e.wall}\t${e.mono.toFixed(3)}\t${e.dir}\t${e.text}`;
}

/** Entries as a text dump, with an optional `# ` header line (e.g. the port name). */
export function serialiseTranscript(entries: readonly TranscriptEntry[], header?: string): string {
  const lines = entries.map(formatTranscriptEntry);
  if (header !== undefined) lines.unshift(`# ${header.replace(/[\r\n]/g, ' ')}`);
  return lines.join('\n') + '\n';
}

/** One dump line → entry; throws GW_AT_TRANSCRIPT with the reason when it is malformed. */
export function parseTranscriptLine(line: string): TranscriptEntry {
  const bad = (reason: string): GoipwatchError => new GoipwatchError(ErrorCodes.AtTranscript, `bad transcript line: ${reason}`, { line: line.slice(0, 200) });
  const f = line.split('\t');
  if (f.length !== 5) throw bad(`${f.length} fields, want 5`);
  const [n, wall, mono, dir, text] = f as [string, string, string, string, string];
  if (!N_RE.test(n)) throw bad('n is not a positive integer');
  if (!WALL_RE.test(wall) || Number.isNaN(Date.parse(wall))) throw bad('wall is not an ISO UTC time');
  if (!MONO_RE.test(mono)) throw bad('mono is not ms with 3 decimals');
  if (dir !== 'tx' && dir !== 'rx' && dir !== 'note') throw bad(`dir ${JSON.stringify(dir)}`);
  if (unescapeAtText(text) === undefined) throw bad('text is not escaped printable ASCII');
  return { n: Number(n), wall, mono: Number(mono), dir, text };
}

export interface ParsedTranscript {
  entries: TranscriptEntry[];
  comments: string[];
  /** Malformed lines, skipped (1-based line of the dump). */
  errors: Array<{ line: number; reason: string }>;
}

/** A whole dump; malformed lines are skipped with a reason, never fatal. */
export function parseTranscript(dump: string): ParsedTranscript {
  const out: ParsedTranscript = { entries: [], comments: [], errors: [] };
  const lines = dump.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    if (line.startsWith('#')) {
      out.comments.push(line.replace(/^# ?/, ''));
      return;
    }
    try {
      out.entries.push(parseTranscriptLine(line));
    } catch (e) {
      out.errors.push({ line: i + 1, reason: describeError(e) });
    }
  });
  return out;
}
