/**
 * Which serial ports are there, by stable name, and does a port speak AT?
 *
 *   /dev/serial/by-path/*  ─┐ readdir + realpath
 *   /dev/serial/by-id/*    ─┴─► group by tty ─► { path: by-path ?? by-id ?? tty, byPath, byId, tty }
 *   (no links at all) ─► /dev/ttyUSB*, /dev/ttyACM*
 *
 *   probePort(binding): "AT" (3 s) up to 3 times; OK, ERROR or +CME ERROR all prove AT (§1.1)
 *
 * Why not SerialPort.list(): on Linux it shells out to udevadm, which a minimal Pi image or a
 * container may lack (§4). Why by-path first: identical sticks without a serial number (Huawei
 * E173 "Serial No.: not provided") get colliding by-id names, while by-path names the physical
 * USB port and survives re-enumeration (§3.7, takeaway 7).
 */
import { readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, describeError, isGoipwatchError } from '../errors.js';
import { componentLogger } from '../log.js';
import { AtChannel } from './channel.js';
import type { TranscriptSink } from './transcript.js';
import type { FinalResult, SerialBinding, TranscriptEntry } from './types.js';

export interface SerialPortCandidate {
  /** The name to use: the by-path link if any, else the by-id link, else the tty. */
  path: string;
  byPath?: string;
  byId?: string;
  /** The device node the links resolve to (/dev/ttyUSB3); it may change after a replug. */
  tty: string;
}

export interface DiscoveryOptions {
  byPathDir?: string;
  byIdDir?: string;
  /** Where to look for ttyUSB0…, ttyACM0… when there are no links (default /dev). */
  devDir?: string;
  log?: Logger;
}

export async function listSerialPorts(opts: DiscoveryOptions = {}): Promise<SerialPortCandidate[]> {
  const log = opts.log ?? componentLogger('discovery');
  const byTty = new Map<string, SerialPortCandidate>();
  const add = (tty: string, kind: 'byPath' | 'byId', link: string): void => {
    const c = byTty.get(tty) ?? { path: tty, tty };
    // Several links may name one tty (udev's "-usb-" and "-usbv2-" by-path forms): keep the
    // first in sorted order, so the choice is the same on every run.
    c[kind] ??= link;
    byTty.set(tty, c);
  };
  for (const link of await readLinks(opts.byPathDir ?? '/dev/serial/by-path', log)) add(link.tty, 'byPath', link.link);
  for (const link of await readLinks(opts.byIdDir ?? '/dev/serial/by-id', log)) add(link.tty, 'byId', link.link);
  if (byTty.size === 0) {
    const devDir = opts.devDir ?? '/dev';
    for (const name of await readDirOrEmpty(devDir, log)) {
      if (/^tty(USB|ACM)\d+$/.test(name)) byTty.set(join(devDir, name), { path: join(devDir, name), tty: join(devDir, name) });
    }
  }
  const out = [...byTty.values()].map((c) => ({ ...c, path: c.byPath ?? c.byId ?? c.tty }));
  return out.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

async function readLinks(dir: string, log: Logger): Promise<Array<{ link: string; tty: string }>> {
  const out: Array<{ link: string; tty: string }> = [];
  for (const name of (await readDirOrEmpty(dir, log)).sort()) {
    const link = join(dir, name);
    try {
      out.push({ link, tty: await realpath(link) });
    } catch (e) {
      // A dangling link: the device went away between readdir and realpath.
      log.debug({ link, err: describeError(e) }, 'serial link does not resolve');
    }
  }
  return out;
}

async function readDirOrEmpty(dir: string, log: Logger): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    // No USB serial device has ever been plugged in: udev has not created the directory.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') log.warn({ dir, err: describeError(e) }, 'cannot read serial device directory');
    return [];
  }
}

// ---------------------------------------------------------------------------------------------

export interface ProbeOptions {
  /** Attempts (default 3; MM uses 6, §1.1). */
  tries?: number;
  /** ms per attempt (default 3000, §1.1). */
  timeoutMs?: number;
  /** Leave the port open after the probe when the probe opened it (default false). */
  keepOpen?: boolean;
  transcript?: TranscriptSink;
  log?: Logger;
}

export interface ProbeResult {
  port: string;
  speaksAt: boolean;
  tries: number;
  /** The final result that proved AT. */
  final?: FinalResult;
  finalLine?: string;
  /** Why it does not (open failed, port closed, no answer). */
  error?: string;
  transcript: TranscriptEntry[];
}

/**
 * Does the port answer AT? Any recognised final result proves it, errors included (MM
 * mm_port_probe_response_processor_is_at, §1.1); a timeout means try again. No resync: a late
 * answer to an earlier try is as good a proof as any. The probe channel is detached afterwards so
 * the caller can put its own AtChannel on the binding.
 */
export async function probePort(binding: SerialBinding, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const tries = Math.max(1, opts.tries ?? 3);
  const log = opts.log ?? componentLogger('at', { port: binding.path });
  const result: ProbeResult = { port: binding.path, speaksAt: false, tries: 0, transcript: [] };
  const openedHere = !binding.isOpen;
  if (openedHere) {
    try {
      await binding.open();
    } catch (e) {
      return { ...result, error: describeError(e) };
    }
  }
  const channel = new AtChannel(binding, { resync: false, transcript: opts.transcript, log });
  try {
    while (result.tries < tries) {
      result.tries++;
      try {
        const res = await channel.send('AT', { timeoutMs: opts.timeoutMs ?? 3_000 });
        Object.assign(result, { speaksAt: true, final: res.final, finalLine: res.finalLine });
        delete result.error;
        break;
      } catch (e) {
        result.error = describeError(e);
        if (!(isGoipwatchError(e) && e.code === ErrorCodes.AtTimeout)) break;
      }
    }
  } finally {
    result.transcript = channel.transcript();
    channel.detach();
    if (openedHere && !opts.keepOpen && binding.isOpen) {
      await binding.close().catch((e: unknown) => log.warn({ err: describeError(e) }, 'close after probe failed'));
    }
  }
  return result;
}
