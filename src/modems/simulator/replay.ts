/**
 * TranscriptModem: a device that answers from a recorded per-port AT transcript (the dump's
 * transcript files, format of src/at/transcript.ts), so a seized pool's session can be served
 * again on PTYs (`goipwatch modems simulate --from-dump DIR`).
 *
 *   transcript  n  wall  mono  tx  AT+CSQ\r           ──► exchange { command "AT+CSQ",
 *               n  …     …     rx  AT+CSQ (echo)           rx ["AT+CSQ", "+CSQ: 17,99", "OK"] }
 *               n  …     …     rx  +CSQ: 17,99
 *               n  …     …     rx  OK
 *
 *   client "AT+CSQ\r" ──► next recorded command?  yes ─► replay its rx lines
 *                         later in the recording? yes ─► replay, note the skipped ones
 *                         earlier (a repeat)?     yes ─► replay that one again, note it
 *                         otherwise                    ─► ERROR, note "not in the transcript"
 *
 * rx lines come back framed the usual way (`\r\n<info>\r\n…\r\n\r\nOK\r\n`, echo as `<cmd>\r`):
 * a transcript keeps lines, not the original bytes between them.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { unescapeAtText } from '../../at/framing.js';
import { parseTranscript } from '../../at/transcript.js';
import type { TranscriptEntry } from '../../at/types.js';

interface Exchange {
  /** What the client sent, unescaped, CR removed (a PDU body keeps its Ctrl-Z). */
  command: string;
  rx: string[];
}

/** A final result line (§0 takeaway 2) or the SMS prompt. */
const FINAL_RE = /^(OK|ERROR|\+CME ERROR:.*|\+CMS ERROR:.*|NO CARRIER|BUSY|NO ANSWER|NO DIALTONE|CONNECT.*|COMMAND NOT SUPPORT)$/;

function key(command: string): string {
  return command.trim().toUpperCase();
}

export class TranscriptModem {
  /** What happened that the recording did not foresee: skips, repeats, unknown commands. */
  readonly notes: string[] = [];
  /** Command lines received that the recording does not hold. */
  readonly unknownCommands: string[] = [];
  private readonly exchanges: Exchange[] = [];
  private readonly listeners = new Set<(bytes: Buffer) => void>();
  private cursor = 0;
  private buf = '';

  /** `name` is the recorded port (for notes); entries in transcript order. */
  constructor(entries: readonly TranscriptEntry[], readonly name = 'port') {
    let current: Exchange | undefined;
    for (const e of entries) {
      if (e.dir === 'note') continue;
      const bytes = unescapeAtText(e.text);
      if (!bytes) continue;
      const text = bytes.toString('latin1');
      if (e.dir === 'tx') {
        // One write may hold several command lines; the answer belongs to the last.
        const pieces = text.split('\r').filter((p) => p.trim() !== '');
        for (const p of pieces) {
          current = { command: p, rx: [] };
          this.exchanges.push(current);
        }
      } else if (current) current.rx.push(text);
      else this.notes.push(`${name}: rx before the first command not replayed: ${JSON.stringify(text)}`);
    }
  }

  /** Number of recorded commands. */
  get length(): number {
    return this.exchanges.length;
  }

  onOutput(listener: (bytes: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  input(bytes: Buffer): void {
    for (const b of bytes) {
      if (b === 0x0d || b === 0x1a || b === 0x1b) {
        // Ctrl-Z / ESC end a PDU body; they stay part of what is matched.
        const line = b === 0x0d ? this.buf : this.buf + String.fromCharCode(b);
        this.buf = '';
        if (line.trim() !== '') this.answer(line);
      } else if (b !== 0x0a) this.buf += String.fromCharCode(b);
    }
  }

  private answer(line: string): void {
    const want = key(line);
    let at = -1;
    if (this.exchanges[this.cursor] && key(this.exchanges[this.cursor]?.command ?? '') === want) at = this.cursor;
    if (at < 0) {
      const later = this.exchanges.findIndex((x, i) => i > this.cursor && key(x.command) === want);
      if (later >= 0) {
        this.notes.push(`${this.name}: ${JSON.stringify(line)} skipped ${later - this.cursor} recorded command(s)`);
        at = later;
      }
    }
    if (at >= 0) {
      this.cursor = at + 1;
      return this.emit(this.render(this.exchanges[at]?.rx ?? [], line));
    }
    for (let i = this.cursor - 1; i >= 0; i--) {
      if (key(this.exchanges[i]?.command ?? '') === want) {
        this.notes.push(`${this.name}: ${JSON.stringify(line)} repeated; answered as recorded at command ${i + 1}`);
        return this.emit(this.render(this.exchanges[i]?.rx ?? [], line));
      }
    }
    this.unknownCommands.push(line);
    this.notes.push(`${this.name}: ${JSON.stringify(line)} is not in the transcript; answered ERROR`);
    this.emit('\r\nERROR\r\n');
  }

  /** Recorded lines → bytes: echo as `<cmd>\r`, info lines in one block, finals on their own. */
  private render(rx: readonly string[], sent: string): string {
    let out = '';
    let block: string[] = [];
    const flush = (): void => {
      if (block.length) out += `\r\n${block.join('\r\n')}\r\n`;
      block = [];
    };
    rx.forEach((line, i) => {
      if (i === 0 && key(line) === key(sent)) {
        out += `${line}\r`;
        return;
      }
      if (line === '') return;
      if (/^>\s*$/.test(line)) {
        flush();
        out += '\r\n> ';
      } else if (FINAL_RE.test(line)) {
        flush();
        out += `\r\n${line}\r\n`;
      } else block.push(line);
    });
    flush();
    return out;
  }

  private emit(text: string): void {
    if (!text) return;
    const bytes = Buffer.from(text, 'latin1');
    for (const l of this.listeners) l(bytes);
  }
}

export interface RecordedPort {
  /** The port name the transcript names in its `# ` header, else the file name. */
  port: string;
  file: string;
  entries: TranscriptEntry[];
  /** Lines of the file that were not transcript entries (skipped with a reason). */
  errors: Array<{ line: number; reason: string }>;
}

async function walk(dir: string, depth: number, out: string[]): Promise<void> {
  const items = await readdir(dir, { withFileTypes: true });
  for (const it of items.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, it.name);
    if (it.isDirectory() && depth > 0) await walk(p, depth - 1, out);
    else if (it.isFile()) out.push(p);
  }
}

/**
 * Every transcript file under a dump directory (three levels deep): a file counts when its
 * first non-comment line parses as a transcript entry. Sorted by path, so port order is stable.
 */
export async function loadDumpTranscripts(dumpDir: string): Promise<RecordedPort[]> {
  const files: string[] = [];
  await walk(dumpDir, 3, files);
  const out: RecordedPort[] = [];
  for (const file of files) {
    const info = await stat(file);
    if (info.size === 0 || info.size > 64 * 1024 * 1024) continue;
    const text = await readFile(file, 'utf8');
    const parsed = parseTranscript(text);
    const firstLine = text.split('\n').find((l) => l !== '' && !l.startsWith('#'));
    if (parsed.entries.length === 0 || firstLine === undefined || !/^\d+\t/.test(firstLine) || parsed.errors.some((e) => e.line === text.split('\n').indexOf(firstLine) + 1)) continue;
    const header = parsed.comments[0]?.trim();
    out.push({ port: header || file.slice(dumpDir.length + 1), file, entries: parsed.entries, errors: parsed.errors });
  }
  return out;
}
