/**
 * Timeouts: how long to wait for each AT command's final result, and how to get back in step
 * with the module after waiting in vain (Resynchroniser, below).
 *
 * The waits are ModemManager's per-command timeouts (at-commands.md §1.6,
 * `mm-broadband-modem.c`). One number per command is wrong both ways: an operator scan takes
 * minutes, a plain query that has not answered in 3 s will not answer.
 *
 *   "AT+COPS=3,2;+COPS?" ─► split on ';' ─► look each part up ─► the longest wins ─► 3000 ms
 *
 * The timer starts when the last byte has been written (MM arms it the same way, §1.1), so slow
 * pacing does not eat into the module's time.
 */
import { classifyFinal, isEcho } from './framing.js';

/** Default for commands not in the table: "most others … 3" (§1.6). */
export const DEFAULT_TIMEOUT_MS = 3_000;

export interface TimeoutRule {
  /** Matched against one command part, upper-cased, without the leading "AT" (e.g. `+CMGL=4`). */
  match: RegExp;
  ms: number;
  source: string;
}

/** First match wins, so the specific forms come before the general ones. */
export const AT_TIMEOUTS: readonly TimeoutRule[] = [
  { match: /^\+COPS=\?$/, ms: 315_000, source: '§1.6: MM 315 s since f014f384 (2025), 300 s before' },
  { match: /^\+COPS=0/, ms: 120_000, source: '§1.6: automatic registration' },
  { match: /^\+CMGL/, ms: 120_000, source: '§1.6: +CMGL=4 / +CMGL="ALL"' },
  { match: /^\+CMGR/, ms: 10_000, source: '§1.6' },
  { match: /^\+CPIN\?$/, ms: 10_000, source: '§1.6' },
  { match: /^\+C(5G|G|E)?REG\?$/, ms: 10_000, source: '§1.6: +CREG?/+CGREG?/+CEREG?/+C5GREG?' },
  { match: /^\+CCWA/, ms: 60_000, source: '§1.6: +CCWA=1,2' },
  { match: /^\+CHLD/, ms: 20_000, source: '§1.6' },
  { match: /^\+CUSD/, ms: 15_000, source: '§1.6: smstools cusd multiplier 3 × 5 s' },
  { match: /^\+CFUN=1/, ms: 5_000, source: '§1.6' },
  { match: /^\+(CLCC|CIND\?)/, ms: 5_000, source: '§1.6' },
  { match: /^Z\d*$/, ms: 6_000, source: '§1.6: ATZ' },
];

/** The timeout for a command line such as `AT+CMGL=4` or `AT+CREG?;+CGREG?`. */
export function defaultTimeoutMs(command: string, rules: readonly TimeoutRule[] = AT_TIMEOUTS): number {
  const body = command.trim().replace(/^AT/i, '').toUpperCase();
  let ms = 0;
  for (const part of body.split(';')) {
    const p = part.trim();
    const rule = rules.find((r) => r.match.test(p));
    ms = Math.max(ms, rule ? rule.ms : DEFAULT_TIMEOUT_MS);
  }
  return ms || DEFAULT_TIMEOUT_MS;
}

// ---------------------------------------------------------------------------------------------
// Recovering from a timeout: resynchronisation
//
//   timeout / aborted prompt / (re)open
//        │
//        ▼
//   quiet for quietMs? ──no──► wait (late answers arrive now and are discarded by the channel)
//        │yes (or maxQuietWaitMs passed)
//        ▼
//   drop buffered partial input ─► send ATS3? ─► "013" then OK? ──yes──► in step
//                                        │ a lone late OK/ERROR: not proof, keep waiting
//                                        └ nothing within attemptTimeoutMs ─► next attempt … ─► failed
//
// Why: MM admits that a late reply is handed to the next command (§1.1); Gammu discards input
// and smstools wakes the module with AT before talking (§3.2). A plain "AT" → "OK" exchange is not
// enough, because the late OK of the timed-out command looks exactly like it. V.250 S3 (the
// command-line terminator, 13) is read-only, answered by every module in this survey, and its
// answer "013" cannot come from any other command. The retries also wake modules that drop the
// first command after idle (BenQ M32, SIM7600 "enter twice", §3.2).

export interface ResyncOptions {
  /** ms without a received byte before each attempt (default 100). */
  quietMs?: number;
  /** ms to wait for quiet at most (default 2000): a chatty module may never be quiet. */
  maxQuietWaitMs?: number;
  /** Command whose answer a late reply cannot fake (default `ATS3?`). */
  sentinel?: string;
  /** The sentinel's information line (default /^0*13$/). */
  expect?: RegExp;
  /** ms per attempt (default 1000). */
  attemptTimeoutMs?: number;
  /** Attempts before giving up (default 3). */
  attempts?: number;
}

/** What a resync needs from the channel. */
export interface ResyncLink {
  /** Transcribe and write a command line. */
  send(bytes: Buffer, signal: AbortSignal): Promise<void>;
  /** Drop buffered partial input; returns the bytes dropped. */
  dropBuffered(): number;
  /** performance.now() of the last received byte (0: never). */
  lastRxAt(): number;
  note(text: string): void;
}

export class Resynchroniser {
  readonly opts: Required<ResyncOptions>;
  private phase: 'idle' | 'drain' | 'sentinel' = 'idle';
  private saw = false;
  private done: ((ok: boolean) => void) | undefined;

  constructor(o: ResyncOptions = {}) {
    this.opts = {
      quietMs: o.quietMs ?? 100, maxQuietWaitMs: o.maxQuietWaitMs ?? 2_000, sentinel: o.sentinel ?? 'ATS3?',
      expect: o.expect ?? /^0*13$/, attemptTimeoutMs: o.attemptTimeoutMs ?? 1_000, attempts: Math.max(1, o.attempts ?? 3),
    };
  }

  /** A resync is under way: lines with no command waiting are late answers, not URCs. */
  get active(): boolean {
    return this.phase !== 'idle';
  }

  /**
   * Offer a line that no command is waiting for. True when it belongs to the sentinel exchange
   * (its echo, its answer, its OK); false for anything else (a late answer, a URC).
   */
  consume(line: string): boolean {
    if (this.phase !== 'sentinel') return false;
    if (isEcho(line, this.opts.sentinel.toUpperCase())) return true;
    if (this.opts.expect.test(line.trim())) {
      this.saw = true;
      return true;
    }
    const fin = classifyFinal(line);
    if (fin?.final === 'OK' && this.saw) {
      this.done?.(true);
      return true;
    }
    if (fin) this.saw = false; // a late final from before: keep waiting for "013" + OK
    return false;
  }

  /** True when back in step; false after `attempts` failed attempts. Rejects when `signal` aborts. */
  async run(link: ResyncLink, signal: AbortSignal): Promise<boolean> {
    const o = this.opts;
    this.phase = 'drain';
    try {
      for (let attempt = 1; attempt <= o.attempts; attempt++) {
        const start = performance.now();
        for (;;) {
          const quietFor = performance.now() - link.lastRxAt();
          const waited = performance.now() - start;
          if (quietFor >= o.quietMs || waited >= o.maxQuietWaitMs) break;
          await abortableDelay(Math.min(o.quietMs - quietFor, o.maxQuietWaitMs - waited), signal);
        }
        link.note(`resync attempt ${attempt}/${o.attempts}: ${link.dropBuffered()} buffered bytes dropped, sending ${o.sentinel}`);
        if (await this.exchange(link, signal)) {
          link.note('resync ok');
          return true;
        }
      }
      link.note(`resync failed after ${o.attempts} attempts`);
      return false;
    } finally {
      this.phase = 'idle';
      this.done = undefined;
    }
  }

  private exchange(link: ResyncLink, signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (ok: boolean | { error: unknown }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.phase = 'drain';
        this.done = undefined;
        if (typeof ok === 'boolean') resolve(ok);
        else reject(ok.error);
      };
      const onAbort = (): void => finish({ error: signal.reason });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.phase = 'sentinel';
      this.saw = false;
      this.done = finish;
      link.send(Buffer.from(this.opts.sentinel + '\r', 'latin1'), signal).then(() => {
        if (!settled) timer = setTimeout(() => finish(false), this.opts.attemptTimeoutMs);
      }, (error: unknown) => finish({ error }));
    });
  }
}

/** setTimeout that an abort cuts short, rejecting with the abort reason. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    if (ms <= 0) return resolve();
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
