/**
 * AtChannel: one AT conversation over one SerialBinding — a queue, a per-command state machine,
 * URC routing, resynchronisation. Drivers and the bank only see it as an AtRunner.
 *
 *   send() ─► queue ─► [resync?] ─► pace ─► write "AT…\r" ─► wait ──► AtResponse
 *                                                             ▲
 *   binding bytes ─► AtFramer ─► line ─┬─ echo of the command ─┘ dropped   (§3.1)
 *                                      ├─ final result / customFinal ─► settle (§1.2, §3.4)
 *                                      ├─ "> " prompt ─► settle PROMPT, send ESC (read-only tool)
 *                                      ├─ URC (registry, not the command's own prefix) ─► onUrc (§1.3, §3.3)
 *                                      └─ anything else ─► the command's lines
 *   every tx/rx line and every decision ─► TranscriptRecorder
 *
 * Resynchronisation (§1.1 MM FIXME: a late reply answers the next command; §3.2): after a
 * timeout, an aborted prompt, an open or a reconnect, the next command first waits for a quiet
 * line, drops buffered input, and needs `ATS3?` answered "013" + OK — an answer a late OK
 * cannot fake (Resynchroniser in timeouts.ts). Lines arriving meanwhile are late answers and are
 * discarded (registered URCs still reach listeners, except the timed-out command's own prefix).
 * After `attempts` failures the waiting command fails with GW_AT_RESYNC; the next one retries.
 */
import type { Logger } from 'pino';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';
import { componentLogger } from '../log.js';
import {
  AtFramer, classifyFinal, commandLineRefusal, DEFAULT_URCS, escapeAtBytes, isEcho, solicitedNames, urcNameOf, UrcRegistry,
  type AtFrame, type FinalMatch, type UrcSpec,
} from './framing.js';
import { abortableDelay as delay, defaultTimeoutMs, Resynchroniser, type ResyncOptions } from './timeouts.js';
import { TranscriptRecorder, type TranscriptSink } from './transcript.js';
import type { AtCommandOptions, AtResponse, AtRunner, SerialBinding, TranscriptEntry, Urc } from './types.js';

export type { ResyncOptions } from './timeouts.js';

export interface AtChannelOptions {
  /** ms between one command's end and the next write (default 20; Siemens MC35 wants 100, §3.6). */
  minGapMs?: number;
  /** ms between bytes of a command, 0 = one write (default 0; MM probes with 1, §1.1, §3.6). */
  perByteDelayMs?: number;
  /** Receives every transcript entry (store, file). */
  transcript?: TranscriptSink;
  /** Entries kept in memory, see transcript() (default 2000). */
  ringSize?: number;
  /** Extra URCs (vendor dialects), added to DEFAULT_URCS. */
  urcs?: UrcSpec[];
  /** Timeout when a command has no timeoutMs (default: timeouts.ts table). */
  timeoutFor?: (command: string) => number;
  /** false: never resync (port probing, where any answer is good enough). */
  resync?: ResyncOptions | false;
  /** Resync before the first command, discarding a previous session's leftovers (default true, §3.2). */
  resyncOnOpen?: boolean;
  /** Longest line kept, bytes (default 64 KiB). */
  maxLineBytes?: number;
  /** Information lines kept per response (default 10000); the rest is noted and dropped. */
  maxResponseLines?: number;
  /** A reason to refuse a command before it is sent (src/at/policy.ts plugs in here). */
  refuse?: (command: string) => string | undefined;
  log?: Logger;
}

export interface AtChannelStats {
  commands: number; timeouts: number; resyncs: number; resyncFailures: number;
  urcs: number; noiseLines: number; strayLines: number; overflowBytes: number;
}

interface Job { command: string; opts: AtCommandOptions; resolve: (r: AtResponse) => void; reject: (e: unknown) => void }
type Outcome = FinalMatch & { finalLine: string; rxLine: number };
interface Inflight {
  command: string; echo: string; opts: AtCommandOptions; solicited: string[];
  lines: string[]; echoPhase: boolean; sawEcho: boolean; truncated: boolean; settle: (o: Outcome) => void;
}

const ESC = Buffer.of(0x1b);
/** A two-line URC whose data line comes later than this is emitted without it. */
const SECOND_LINE_MS = 2_000;

export class AtChannel implements AtRunner {
  readonly port: string;
  readonly stats: AtChannelStats = { commands: 0, timeouts: 0, resyncs: 0, resyncFailures: 0, urcs: 0, noiseLines: 0, strayLines: 0, overflowBytes: 0 };
  private readonly framer: AtFramer;
  private readonly urcs: UrcRegistry;
  private readonly rec: TranscriptRecorder;
  private readonly log: Logger;
  private readonly resyncer: Resynchroniser | undefined;
  private readonly queue: Job[] = [];
  private readonly urcListeners = new Set<(u: Urc) => void>();
  private pumping = false;
  private closed = false;
  private detached = false;
  private needsResync: boolean;
  private inflight: Inflight | undefined;
  private currentAbort: AbortController | undefined;
  private pendingUrc: { name: string; line: string; n: number; at: number } | undefined;
  /** After a timeout or prompt abort: late answers may still come. */
  private outOfStep = false;
  /** Names a timed-out command would answer with: late ones are not URCs. */
  private lateNames: string[] = [];
  private lastRxAt = 0;
  private lastDoneAt = 0;
  private timeoutsInARow = 0;
  private echoSeen: boolean | undefined;

  constructor(private readonly binding: SerialBinding, private readonly opts: AtChannelOptions = {}) {
    this.port = binding.path;
    this.log = opts.log ?? componentLogger('at', { port: this.port });
    this.framer = new AtFramer({ maxLineBytes: opts.maxLineBytes });
    this.urcs = new UrcRegistry([...DEFAULT_URCS, ...(opts.urcs ?? [])]);
    this.rec = new TranscriptRecorder(opts.transcript, opts.ringSize ?? 2_000, this.log);
    this.resyncer = opts.resync === false ? undefined : new Resynchroniser(opts.resync);
    this.needsResync = this.resyncer !== undefined && (opts.resyncOnOpen ?? true);
    const sentinel = this.resyncer?.opts.sentinel;
    const refused = sentinel === undefined ? undefined : commandLineRefusal(sentinel) ?? opts.refuse?.(sentinel);
    if (refused) throw new GoipwatchError(ErrorCodes.AtRefused, `resync sentinel ${sentinel} refused: ${refused}`, { port: this.port });
    binding.onData((chunk) => this.onData(chunk));
    binding.onClose((error) => this.onBindingClose(error));
  }

  /** Timeouts since the last answered command (MM re-probes a port after 10, §3.9). */
  get consecutiveTimeouts(): number {
    return this.timeoutsInARow;
  }

  /** Whether the module echoed the last command (undefined before the first answer). */
  get echo(): boolean | undefined {
    return this.echoSeen;
  }

  /** The last `ringSize` transcript entries. */
  transcript(): TranscriptEntry[] {
    return this.rec.ring.entries();
  }

  onUrc(listener: (u: Urc) => void): () => void {
    this.urcListeners.add(listener);
    return () => this.urcListeners.delete(listener);
  }

  send(command: string, opts: AtCommandOptions = {}): Promise<AtResponse> {
    if (this.closed || this.detached) return Promise.reject(this.closedError('channel is closed'));
    const reason = commandLineRefusal(command) ?? this.opts.refuse?.(command);
    if (reason) {
      return Promise.reject(new GoipwatchError(ErrorCodes.AtRefused, `refused ${JSON.stringify(command.slice(0, 80))}: ${reason}`, { port: this.port, command }));
    }
    return new Promise<AtResponse>((resolve, reject) => {
      this.queue.push({ command, opts, resolve, reject });
      void this.pump();
    });
  }

  /** Fail what is queued, stop listening, and close the port. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(this.closedError('channel closed'));
    this.rec.note('channel closed');
    if (this.binding.isOpen) await this.binding.close();
  }

  /** Fail what is queued and stop listening, leaving the port open for another channel (after probing). */
  detach(): void {
    this.failAll(this.closedError('channel detached'));
    this.detached = true;
  }

  // ---- the queue ---------------------------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        try {
          job.resolve(await this.run(job));
        } catch (e) {
          job.reject(e);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async run(job: Job): Promise<AtResponse> {
    const ac = new AbortController();
    this.currentAbort = ac;
    const { command, opts } = job;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    try {
      this.assertOpen();
      if (this.needsResync && this.resyncer) await this.resync(this.resyncer, ac.signal);
      await delay(this.lastDoneAt + (this.opts.minGapMs ?? 20) - performance.now(), ac.signal);
      this.assertOpen();
      this.stats.commands++;
      const bytes = Buffer.from(command + '\r', 'latin1');
      const tx = this.rec.tx(bytes);
      const sentAt = performance.now();
      const timeoutMs = opts.timeoutMs ?? this.opts.timeoutFor?.(command) ?? defaultTimeoutMs(command);
      const outcome = new Promise<Outcome>((resolve, reject) => {
        // Listening starts before the write: with per-byte pacing the echo arrives while writing.
        const c: Inflight = {
          command, echo: escapeAtBytes(Buffer.from(command, 'latin1')).toUpperCase(), opts,
          solicited: opts.responsePrefix ? [opts.responsePrefix.replace(/:\s*$/, '').toUpperCase()] : solicitedNames(command),
          lines: [], echoPhase: true, sawEcho: false, truncated: false,
          settle: (o) => {
            // Cleared at once: lines later in the same chunk (a URC after OK, §3.3) are not ours.
            finished = true;
            this.inflight = undefined;
            this.echoSeen = c.sawEcho;
            resolve(o);
          },
        };
        this.inflight = c;
        ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true });
        this.write(bytes, ac.signal).then(() => {
          // The timer starts after the last byte (§1.1) — unless the answer came first (a fast
          // module can answer before the write callback of a PTY fires).
          if (!finished) timer = setTimeout(() => ac.abort(this.timedOut(command, timeoutMs, tx.n)), timeoutMs);
        }, reject);
      });
      const lines = this.inflight?.lines ?? [];
      const o = await outcome;
      this.timeoutsInARow = 0;
      if (o.final === 'PROMPT') await this.abortPrompt();
      const res: AtResponse = { command, lines, final: o.final, finalLine: o.finalLine, sentAt, doneAt: performance.now(), transcriptLines: [tx.n, o.rxLine] };
      if (o.errorCode !== undefined) res.errorCode = o.errorCode;
      return res;
    } finally {
      finished = true;
      clearTimeout(timer);
      this.inflight = undefined;
      this.currentAbort = undefined;
      this.lastDoneAt = performance.now();
    }
  }

  private timedOut(command: string, timeoutMs: number, txLine: number): GoipwatchError {
    this.stats.timeouts++;
    this.timeoutsInARow++;
    this.needsResync = this.resyncer !== undefined;
    this.outOfStep = true;
    this.lateNames = solicitedNames(command);
    const partial = this.inflight?.lines.length ?? 0;
    this.rec.note(`timeout after ${timeoutMs} ms waiting for the final result of line ${txLine}; resync before the next command`);
    this.log.warn({ command, timeoutMs, partialLines: partial, inARow: this.timeoutsInARow }, 'AT command timed out');
    return new GoipwatchError(ErrorCodes.AtTimeout, `no final result to ${command} within ${timeoutMs} ms on ${this.port}`, { port: this.port, command, timeoutMs, partialLines: partial, transcriptLine: txLine });
  }

  private async abortPrompt(): Promise<void> {
    // goipwatch is read-only and never sends SMS text: ESC cancels the prompt (27.005 +CMGS).
    // The module may still answer OK or ERROR to the cancelled command, so resync before the next.
    this.needsResync = this.resyncer !== undefined;
    this.outOfStep = true;
    this.rec.tx(ESC);
    this.rec.note('SMS prompt aborted with ESC (goipwatch never sends SMS text)');
    try {
      await this.binding.write(ESC);
    } catch (e) {
      this.rec.note(`ESC write failed: ${describeError(e)}`);
      this.log.warn({ err: describeError(e) }, 'could not abort the SMS prompt');
    }
  }

  // ---- resynchronisation -------------------------------------------------------------------

  private async resync(resyncer: Resynchroniser, signal: AbortSignal): Promise<void> {
    this.stats.resyncs++;
    const inStep = await resyncer.run({
      send: (bytes, sig) => {
        this.rec.tx(bytes);
        return this.write(bytes, sig);
      },
      dropBuffered: () => this.framer.reset(),
      lastRxAt: () => this.lastRxAt,
      note: (text) => this.rec.note(text),
    }, signal).finally(() => (this.lastDoneAt = performance.now()));
    if (inStep) {
      this.needsResync = false;
      this.outOfStep = false;
      this.lateNames = [];
      return;
    }
    const { sentinel, attempts } = resyncer.opts;
    this.stats.resyncFailures++;
    this.timeoutsInARow++;
    this.log.warn({ attempts }, 'AT resync failed: module not answering');
    throw new GoipwatchError(ErrorCodes.AtResync, `${this.port} did not answer ${sentinel} after ${attempts} attempts`, { port: this.port, attempts });
  }

  // ---- receiving ---------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.detached) return;
    this.lastRxAt = performance.now();
    for (const f of this.framer.push(chunk)) this.onFrame(f);
  }

  private onFrame(f: AtFrame): void {
    if (f.kind === 'overflow') {
      this.stats.overflowBytes += f.dropped;
      this.rec.note(`line longer than the limit: ${f.dropped} bytes dropped`);
      this.log.warn({ dropped: f.dropped }, 'AT line too long, dropped');
      return;
    }
    const n = this.rec.rx(f.text).n;
    if (f.kind === 'prompt') {
      if (this.inflight) return this.inflight.settle({ final: 'PROMPT', finalLine: f.text, rxLine: n });
      // A prompt nobody asked for (a module left in text entry): cancel it all the same.
      this.rec.tx(ESC);
      this.rec.note('unexpected SMS prompt aborted with ESC');
      this.needsResync = this.resyncer !== undefined;
      this.outOfStep = true;
      this.binding.write(ESC).catch((e: unknown) => this.log.warn({ err: describeError(e) }, 'could not abort the SMS prompt'));
      return;
    }
    if (this.pendingUrc) {
      const p = this.pendingUrc;
      this.pendingUrc = undefined;
      const fresh = performance.now() - p.at <= SECOND_LINE_MS;
      this.deliver({ port: this.port, name: p.name, line: p.line, ...(fresh ? { data: f.text } : {}), at: p.at, transcriptLine: p.n });
      if (fresh) return;
    }
    if (f.noise) {
      this.stats.noiseLines++; // kept in the transcript only
      return;
    }
    if (this.inflight) this.onCommandLine(this.inflight, f.text, n);
    else this.onUnsolicitedLine(f.text, n);
  }

  private onCommandLine(c: Inflight, text: string, n: number): void {
    if (c.echoPhase && isEcho(text, c.echo)) {
      c.sawEcho = true; // more than one echo line is tolerated (double echo, §3.1)
      return;
    }
    const fin = classifyFinal(text);
    if (fin) return c.settle({ ...fin, finalLine: text, rxLine: n });
    if (c.opts.customFinal?.test(text)) {
      c.lines.push(text);
      return c.settle({ final: 'CUSTOM', finalLine: text, rxLine: n });
    }
    const spec = this.urcs.match(text);
    if (spec && !c.solicited.includes(urcNameOf(text).toUpperCase())) return this.emitUrc(spec, text, n);
    c.echoPhase = false;
    if (c.lines.length < (this.opts.maxResponseLines ?? 10_000)) c.lines.push(text);
    else if (!c.truncated) {
      c.truncated = true;
      this.rec.note('response line limit reached: further lines are in the transcript only');
    }
  }

  /** A line with no command waiting for it: a URC, a late answer, or a resync reply. */
  private onUnsolicitedLine(text: string, n: number): void {
    if (this.resyncer?.consume(text)) return;
    const name = urcNameOf(text).toUpperCase();
    const late = this.outOfStep && this.lateNames.includes(name);
    const spec = late ? undefined : this.urcs.match(text);
    if (spec) return this.emitUrc(spec, text, n);
    // Unregistered "+XXX:" lines are URCs too when we are in step (vendor URCs nobody listed);
    // while out of step they are most likely the late answer of a timed-out command.
    if (!this.outOfStep && !this.resyncer?.active && !classifyFinal(text) && /^[+^#$%*][A-Za-z0-9_]+:/.test(text)) {
      return this.emitUrc({ name: urcNameOf(text), match: 'prefix', source: 'unregistered' }, text, n);
    }
    this.stats.strayLines++;
    this.rec.note(this.resyncer?.active ? `line ${n} discarded during resync (late answer)` : `line ${n} ignored: no command waiting for it`);
  }

  private emitUrc(spec: UrcSpec, line: string, n: number): void {
    if (spec.secondLine?.(line)) {
      this.pendingUrc = { name: spec.name, line, n, at: performance.now() };
      return;
    }
    this.deliver({ port: this.port, name: spec.name, line, at: performance.now(), transcriptLine: n });
  }

  private deliver(u: Urc): void {
    this.stats.urcs++;
    for (const l of this.urcListeners) {
      try {
        l(u);
      } catch (e) {
        // Listeners cannot break each other or the channel.
        this.log.warn({ err: describeError(e), urc: u.name }, 'URC listener failed');
      }
    }
  }

  // ---- the port ----------------------------------------------------------------------------

  private async write(bytes: Buffer, signal: AbortSignal): Promise<void> {
    const perByte = this.opts.perByteDelayMs ?? 0;
    try {
      if (perByte <= 0) return await this.binding.write(bytes);
      for (let i = 0; i < bytes.length; i++) {
        if (i > 0) await delay(perByte, signal);
        await this.binding.write(bytes.subarray(i, i + 1));
      }
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      if (!this.binding.isOpen) throw this.closedError(`write failed: ${describeError(e)}`, e);
      throw new GoipwatchError(ErrorCodes.AtIo, `write to ${this.port} failed: ${describeError(e)}`, { port: this.port }, { cause: e });
    }
  }

  private onBindingClose(error?: Error): void {
    if (this.detached) return;
    for (const f of this.framer.flush()) if (f.kind !== 'overflow') this.rec.rx(f.text);
    if (this.pendingUrc) {
      const p = this.pendingUrc;
      this.pendingUrc = undefined;
      this.deliver({ port: this.port, name: p.name, line: p.line, at: p.at, transcriptLine: p.n });
    }
    this.rec.note(error ? `port went away: ${describeError(error)}` : 'port closed');
    // Whatever the module had half-said is gone; a reopened port starts with a resync (§4: rerun init).
    this.needsResync = this.resyncer !== undefined;
    this.failAll(this.closedError(error ? `port went away: ${describeError(error)}` : 'port closed', error));
  }

  private failAll(err: GoipwatchError): void {
    for (const job of this.queue.splice(0)) job.reject(err);
    this.currentAbort?.abort(err);
  }

  private assertOpen(): void {
    if (this.closed || this.detached) throw this.closedError('channel is closed');
    if (!this.binding.isOpen) throw this.closedError('port is not open');
  }

  private closedError(why: string, cause?: unknown): GoipwatchError {
    const disconnected = cause instanceof Error && (cause as { disconnected?: unknown }).disconnected === true;
    return new GoipwatchError(ErrorCodes.AtClosed, `${this.port}: ${why}`, { port: this.port, disconnected }, cause === undefined ? undefined : { cause });
  }
}

/** Throws GW_AT_ERROR unless the module answered OK (or the command's customFinal). */
export function assertOk(res: AtResponse): AtResponse {
  if (res.final === 'OK' || res.final === 'CUSTOM') return res;
  throw new GoipwatchError(ErrorCodes.AtError, `${res.command} answered ${res.finalLine}`, { command: res.command, final: res.final, errorCode: res.errorCode, transcriptLine: res.transcriptLines[1] });
}
