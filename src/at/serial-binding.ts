/**
 * The real serial port behind the SerialBinding seam, and the reopen loop for USB unplugs.
 *
 *   NodeSerialBinding ── serialport 13 stream, hang-up aware (serial-port.ts) ── /dev/serial/by-path/…
 *        │ onData(chunk)            'data'
 *        │ onClose(err)  ◄───────── 'close' with DisconnectedError (err.disconnected) on unplug (§4)
 *        ▼
 *   ReconnectingPort: closed with an error ─► wait 0.5 s·2^k ±25 % (cap 30 s) ─► open ─► …
 *        idle ─start()─► opening ─► open ─unplug─► waiting ─► opening ─► open
 *                                  └─fail─► waiting ┘          stop() ─► stopped
 *
 * serialport reports an unplug as 'close' carrying a DisconnectedError, not as 'error' (§4,
 * packages/stream/lib/index.ts). Each open() makes a fresh SerialPort, so listeners registered on
 * the binding survive a reopen and an AtChannel keeps working across a reconnect.
 * SerialPort.list() is not used anywhere: it needs udevadm (§4); see discovery.ts.
 */
import type { Logger } from 'pino';
import type { SerialPortStream } from '@serialport/stream';
import { ErrorCodes, GoipwatchError, describeError } from '../errors.js';
import { componentLogger } from '../log.js';
import { createSerialPort } from './serial-port.js';
import type { SerialBinding } from './types.js';

export interface NodeSerialBindingOptions {
  path: string;
  /** bit/s (default 115200, smstools' default; Wavecom Q24xx wants 9600, §3.6). */
  baudRate?: number;
  /** Exclusive open (default true): ModemManager or a second reader must not share the port (§3.8). */
  lock?: boolean;
  log?: Logger;
}

export class NodeSerialBinding implements SerialBinding {
  readonly path: string;
  private readonly baudRate: number;
  private readonly lock: boolean;
  private readonly log: Logger;
  private port: SerialPortStream | undefined;
  private closingByUs = false;
  private readonly dataListeners: Array<(chunk: Buffer) => void> = [];
  private readonly closeListeners: Array<(error?: Error) => void> = [];

  constructor(opts: NodeSerialBindingOptions) {
    this.path = opts.path;
    this.baudRate = opts.baudRate ?? 115_200;
    this.lock = opts.lock ?? true;
    this.log = opts.log ?? componentLogger('serial', { port: opts.path });
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    const port = createSerialPort({ path: this.path, baudRate: this.baudRate, lock: this.lock });
    port.on('data', (chunk: Buffer) => {
      for (const l of this.dataListeners) l(chunk);
    });
    // Without a listener a stray 'error' would crash the process; write errors also reach the
    // write callback, and an unplug arrives as 'close' below.
    port.on('error', (err: Error) => this.log.warn({ err: describeError(err) }, 'serial port error'));
    port.on('close', (err: Error | null) => this.onPortClose(port, err));
    await new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (!err) return resolve();
        // "Cannot lock port" = someone else has it open (ModemManager, §3.8).
        reject(new GoipwatchError(ErrorCodes.AtIo, `cannot open ${this.path}: ${err.message}`, { port: this.path }, { cause: err }));
      });
    });
    this.port = port;
  }

  write(data: Buffer): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new GoipwatchError(ErrorCodes.AtClosed, `${this.path} is not open`, { port: this.path }));
    return new Promise<void>((resolve, reject) => {
      port.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return;
    this.closingByUs = true;
    await new Promise<void>((resolve, reject) => {
      port.close((err) => (err ? reject(err) : resolve()));
    });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  onClose(listener: (error?: Error) => void): void {
    this.closeListeners.push(listener);
  }

  private onPortClose(port: SerialPortStream, err: Error | null): void {
    if (port !== this.port) return; // a port object we already gave up on
    this.port = undefined;
    const byUs = this.closingByUs;
    this.closingByUs = false;
    // err is a DisconnectedError (err.disconnected === true) on unplug; a close we did not ask
    // for without an error is reported as an error too, so a reconnect loop sees it.
    const error = err ?? (byUs ? undefined : new Error('port closed by the system'));
    for (const l of this.closeListeners) l(error);
  }
}

// ---------------------------------------------------------------------------------------------

export type ReconnectState = 'idle' | 'opening' | 'open' | 'waiting' | 'stopped';

export interface BackoffOptions {
  /** ms before the first retry (default 500). */
  initialDelayMs?: number;
  /** ms, the cap (default 30000). */
  maxDelayMs?: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /** ± fraction of the delay, 0–1 (default 0.25): many ports unplugged together do not retry in step. */
  jitter?: number;
}

/** Delay before retry number `attempt` (0-based); `random` in [0, 1). */
export function backoffDelayMs(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialDelayMs ?? 500;
  const cap = opts.maxDelayMs ?? 30_000;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.25));
  const base = Math.min(cap, initial * Math.pow(opts.factor ?? 2, Math.max(0, attempt)));
  return Math.round(base * (1 + jitter * (2 * random() - 1)));
}

/**
 * Keeps a binding open: reopens it after it closed with an error (unplug), with capped jittered
 * backoff; the first failure of a streak is logged as a warning, the repeats at debug (STYLE.md).
 * A close without an error (our own close()) is left alone. The AtChannel on the binding resyncs
 * by itself after a reopen; its owner should rerun the driver's init (settings may be lost, §4).
 */
export class ReconnectingPort {
  private current: ReconnectState = 'idle';
  private failuresInARow = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(state: ReconnectState, error?: Error) => void>();
  private readonly log: Logger;

  constructor(
    readonly binding: SerialBinding,
    private readonly opts: BackoffOptions & { random?: () => number; log?: Logger } = {},
  ) {
    this.log = opts.log ?? componentLogger('serial', { port: binding.path });
    binding.onClose((error) => {
      if (this.current === 'stopped' || this.current === 'idle') return;
      if (!error) return this.setState('idle');
      this.log.warn({ err: describeError(error) }, 'serial port went away; reopening with backoff');
      this.schedule(error);
    });
  }

  get state(): ReconnectState {
    return this.current;
  }

  /** Failed opens since the port was last open. */
  get failures(): number {
    return this.failuresInARow;
  }

  onState(listener: (state: ReconnectState, error?: Error) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens now (true) or starts retrying in the background (false). */
  async start(): Promise<boolean> {
    if (this.current !== 'idle' && this.current !== 'stopped') return this.current === 'open';
    this.current = 'idle';
    return this.attempt();
  }

  /** No more retries; closes the port. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.setState('stopped');
    if (this.binding.isOpen) await this.binding.close();
  }

  private async attempt(): Promise<boolean> {
    this.timer = undefined;
    this.setState('opening');
    try {
      await this.binding.open();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (this.current === 'stopped') return false;
      this.failuresInARow++;
      if (this.failuresInARow === 1) this.log.warn({ err: describeError(err) }, 'cannot open serial port; retrying with backoff');
      else this.log.debug({ err: describeError(err), failures: this.failuresInARow }, 'serial port still not available');
      this.schedule(err);
      return false;
    }
    if (this.current === 'stopped') {
      // stop() came while we were opening.
      await this.binding.close().catch((e: unknown) => this.log.warn({ err: describeError(e) }, 'close after stop failed'));
      return false;
    }
    if (this.failuresInARow > 0) this.log.info({ failures: this.failuresInARow }, 'serial port reopened');
    this.failuresInARow = 0;
    this.setState('open');
    return true;
  }

  private schedule(error: Error): void {
    const ms = backoffDelayMs(this.failuresInARow, this.opts, this.opts.random);
    clearTimeout(this.timer); // never two retries pending
    this.setState('waiting', error);
    this.timer = setTimeout(() => void this.attempt(), ms);
  }

  private setState(state: ReconnectState, error?: Error): void {
    this.current = state;
    for (const l of this.listeners) {
      try {
        l(state, error);
      } catch (e) {
        this.log.warn({ err: describeError(e) }, 'reconnect state listener failed');
      }
    }
  }
}
