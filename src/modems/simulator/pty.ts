/**
 * A simulated device on a real pseudo-terminal pair, made by socat (DESIGN.md §7: "serial
 * through socat pseudo-terminal pairs (real termios, real serialport)"; at-commands.md §4).
 *
 *   client (AtChannel, a test, minicom)            simulator
 *   <clientPath> ─► /dev/pts/A ═══ socat ═══ /dev/pts/B ◄─ <devicePath> ─► SerialPort ─► device.input()
 *                                                                         ◄── device.onOutput()
 *
 *   unplug(): kill socat; both links vanish, the client's port closes (serialport DisconnectedError)
 *   replug(): new socat pair on the same link names; the device power-cycles (settings reset, §4)
 *
 * socat removes its links when it exits on SIGTERM; if it has to be killed harder, we remove them.
 */
import { ErrorCodes, GoipwatchError } from '../../errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SerialPortStream } from '@serialport/stream';
import { createSerialPort } from '../../at/serial-port.js';
import { componentLogger } from '../../log.js';

/** What a PTY link can carry: SimulatedModem and TranscriptModem both fit. */
export interface ByteDevice {
  input(bytes: Buffer): void;
  onOutput(listener: (bytes: Buffer) => void): () => void;
  /** The device asks for the link to be pulled ('unplug-mid-command' fault). */
  onUnplug?(listener: () => void): () => void;
  /** The link came up: the module powers up (periodic URCs start, boot URCs if asked). */
  powerOn?(opts?: { bootUrcs?: boolean }): void;
  /** The link went (USB power lost): timers stop, session settings are forgotten. */
  powerOff?(): void;
}

export interface PtyLinkOptions {
  /** Link the client opens (e.g. <dir>/by-path/sim-usb-0:1.1:1.0-port0). */
  clientPath: string;
  /** Link the simulator opens (kept out of the client's directory). */
  devicePath: string;
  device: ByteDevice;
  /** ms to wait for socat to create both links; default 5000. */
  startTimeoutMs?: number;
  /** Send the module's boot URCs when the link comes up (§3.3); default false. */
  bootUrcs?: boolean;
}

export class SimulatorError extends GoipwatchError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(ErrorCodes.Simulator, message, context, options);
    this.name = 'SimulatorError';
  }
}

/** Whether a path (a PTY link, possibly dangling) exists; other errors are real errors. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export class PtyLink {
  private proc: ChildProcess | undefined;
  private port: SerialPortStream | undefined;
  private detach: Array<() => void> = [];
  private readonly log;

  constructor(private readonly opts: PtyLinkOptions) {
    this.log = componentLogger('simulator', { port: opts.clientPath });
  }

  get clientPath(): string {
    return this.opts.clientPath;
  }

  /** socat's pid while the link is up. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get isUp(): boolean {
    return this.proc !== undefined;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const { clientPath, devicePath } = this.opts;
    await mkdir(dirname(clientPath), { recursive: true });
    await mkdir(dirname(devicePath), { recursive: true });
    // A link left by a socat killed with SIGKILL would make socat fail: clear it first.
    await rm(clientPath, { force: true });
    await rm(devicePath, { force: true });
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${clientPath}`, `pty,raw,echo=0,link=${devicePath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc = proc;
    try {
      await this.waitReady(proc);
      await this.openDevice();
    } catch (e) {
      await this.unplug();
      throw e;
    }
    proc.once('exit', (code, signal) => {
      if (this.proc === proc) {
        this.log.warn({ code, signal }, 'socat exited on its own');
        this.proc = undefined;
      }
    });
    if (this.opts.device.powerOn) this.opts.device.powerOn({ bootUrcs: this.opts.bootUrcs ?? false });
  }

  private waitReady(proc: ChildProcess): Promise<void> {
    const timeoutMs = this.opts.startTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      let stderr = '';
      let ready = false;
      const timer = setTimeout(() => finish(new SimulatorError('socat did not create the PTY links in time', { timeoutMs, stderr })), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        proc.stderr?.removeAllListeners('data');
        proc.removeListener('exit', onExit);
        proc.removeListener('error', onError);
        // Keep draining socat's log so its pipe never fills.
        proc.stderr?.resume();
        if (err) reject(err);
        else resolve();
      };
      const onExit = (code: number | null): void => finish(new SimulatorError('socat exited before the PTY links were up', { code, stderr }));
      const onError = (e: Error): void => finish(new SimulatorError('socat could not be started (is it installed?)', { stderr }, { cause: e }));
      proc.once('exit', onExit);
      proc.once('error', onError);
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (ready || !stderr.includes('starting data transfer loop')) return;
        ready = true;
        void Promise.all([exists(this.opts.clientPath), exists(this.opts.devicePath)]).then(
          ([a, b]) => finish(a && b ? undefined : new SimulatorError('socat is up but a PTY link is missing', { stderr })),
          (e: unknown) => finish(new SimulatorError('cannot check the PTY links', { stderr }, { cause: e })),
        );
      });
    });
  }

  private async openDevice(): Promise<void> {
    const port = createSerialPort({ path: this.opts.devicePath, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new SimulatorError('cannot open the device side of the PTY', { path: this.opts.devicePath }, { cause: err })) : resolve())));
    this.port = port;
    const device = this.opts.device;
    port.on('data', (chunk: Buffer) => device.input(chunk));
    port.on('error', (err: Error) => this.log.warn({ err: err.message }, 'device side of the PTY reported an error'));
    port.on('close', (err?: Error & { disconnected?: boolean }) => {
      if (err?.disconnected && this.proc) this.log.warn({ err: err.message }, 'device side of the PTY went away');
    });
    this.detach.push(
      device.onOutput((bytes) => {
        if (port.isOpen) port.write(bytes);
      }),
    );
    if (device.onUnplug) {
      this.detach.push(
        device.onUnplug(() => {
          this.unplug().catch((e: unknown) => this.log.error({ err: String(e) }, 'unplug after a mid-command fault failed'));
        }),
      );
    }
  }

  /** Pull the plug: socat dies, both links disappear, the client's open port breaks. */
  async unplug(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    const port = this.port;
    this.port = undefined;
    // Let bytes already written (half an answer) reach the client before the link goes.
    if (port?.isOpen) await new Promise<void>((resolve) => port.drain(() => setTimeout(resolve, 30)));
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        const hard = setTimeout(() => proc.kill('SIGKILL'), 2000);
        proc.once('exit', () => {
          clearTimeout(hard);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    }
    if (port?.isOpen) {
      await new Promise<void>((resolve) =>
        port.close((err) => {
          // After socat's death the port is usually closed already by the disconnect.
          if (err) this.log.debug({ err: err.message }, 'closing the device side after unplug');
          resolve();
        }),
      );
    }
    await rm(this.opts.clientPath, { force: true });
    await rm(this.opts.devicePath, { force: true });
    this.opts.device.powerOff?.();
  }

  /** Plug back in: a fresh socat pair on the same names, the device powered up again. */
  async replug(): Promise<void> {
    if (this.proc) await this.unplug();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.unplug();
  }
}
