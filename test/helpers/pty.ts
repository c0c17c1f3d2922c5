/**
 * A pair of connected pseudo-terminals made by socat, for tests that need a real serial device:
 * real termios, the real `serialport` binding, and an unplug you can cause (stop()).
 *
 *   test ──serialport──► <dir>/A ═══ socat ═══ <dir>/B ◄── scripted device (or the simulator)
 *
 *   const pty = await startPtyPair();           // links in a fresh temp dir
 *   new NodeSerialBinding({ path: pty.a }) …    // the host end
 *   … pty.b                                     // the device end
 *   await pty.stop();                           // SIGTERM socat: both ends see an unplug
 *   const again = await startPtyPair({ dir: pty.dir });   // same link names: a re-plug
 *
 * Command: `socat -d -d pty,raw,echo=0,link=<dir>/A pty,raw,echo=0,link=<dir>/B` (at-commands.md
 * §4, "PTY pairs with socat"). Baud rate and control lines mean nothing on a PTY, so autobaud
 * and baud mismatches cannot be tested this way (§4, libserialport PR #4).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exists } from '../../src/modems/simulator/pty.js';

export interface PtyPair {
  /** Directory holding the links. */
  dir: string;
  /** Path of the first end (a symlink to /dev/pts/N). */
  a: string;
  /** Path of the second end. */
  b: string;
  /** socat's pid. */
  pid: number;
  /** Kill socat (SIGTERM, then SIGKILL after 2 s) and wait for it to exit. Removes `dir` if this helper made it. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PtyPairOptions {
  /** Put the links here (kept on stop) instead of a fresh temp dir (removed on stop). */
  dir?: string;
  /** Link names (default 'A', 'B'). */
  names?: [string, string];
  /** ms to wait for socat to be ready (default 5000). */
  timeoutMs?: number;
}

export async function startPtyPair(opts: PtyPairOptions = {}): Promise<PtyPair> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'goipwatch-pty-')));
  const [nameA, nameB] = opts.names ?? ['A', 'B'];
  const a = join(dir, nameA);
  const b = join(dir, nameB);
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  const stop = async (): Promise<void> => {
    if (!spawnError) await killAndWait(child, exited);
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };

  // Ready = both links exist and socat has entered its transfer loop ("starting data transfer loop").
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  for (;;) {
    if (spawnError || child.exitCode !== null) {
      await stop();
      throw new Error(`socat did not start: ${spawnError?.message ?? `exit ${child.exitCode}`}\n${stderr}`);
    }
    if ((await exists(a)) && (await exists(b)) && /starting data transfer loop/.test(stderr)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`socat PTY pair not ready after ${opts.timeoutMs ?? 5_000} ms\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { dir, a, b, pid: child.pid as number, stop };
}


async function killAndWait(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
}
