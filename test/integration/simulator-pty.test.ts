/**
 * The simulated bank through real pseudo-terminals (socat + serialport, DESIGN.md §7): a plain
 * serialport stream on the client side (the hang-up aware one of src/at/serial-port.ts), no
 * AtChannel. Unplug/replug, a mid-command unplug, replay of a recorded transcript, and no socat
 * left behind.
 */
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SerialPortStream } from '@serialport/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePdu } from '../../src/at/pdu.js';
import { createSerialPort } from '../../src/at/serial-port.js';
import { serialiseTranscript } from '../../src/at/transcript.js';
import type { TranscriptEntry } from '../../src/at/types.js';
import { luhnValid, SimulatedBank, startReplayBank } from '../../src/modems/simulator/index.js';

interface Client {
  port: SerialPortStream;
  /** Send a line, resolve with everything received until `done` matches (or reject on timeout). */
  ask(cmd: string, done?: RegExp, timeoutMs?: number): Promise<string>;
  closed: Promise<(Error & { disconnected?: boolean }) | null>;
  close(): Promise<void>;
}

const FINAL = /\r\n(OK|ERROR|\+CME ERROR: .*|\+CMS ERROR: .*)\r\n$/;

async function connect(path: string): Promise<Client> {
  const port = createSerialPort({ path, baudRate: 115200 });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  let buf = '';
  let waiter: (() => void) | undefined;
  port.on('data', (b: Buffer) => {
    buf += b.toString('latin1');
    waiter?.();
  });
  port.on('error', (e: Error) => {
    buf += `\n[error ${e.message}]`;
  });
  const closed = new Promise<(Error & { disconnected?: boolean }) | null>((resolve) => port.once('close', (e?: Error) => resolve(e ?? null)));
  return {
    port,
    closed,
    ask(cmd, done = FINAL, timeoutMs = 3000) {
      buf = '';
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${cmd} matching ${done}; got ${JSON.stringify(buf)}`)), timeoutMs);
        void closed.then(() => {
          clearTimeout(timer);
          reject(new Error(`port closed during ${cmd}; got ${JSON.stringify(buf)}`));
        });
        waiter = () => {
          if (!done.test(buf)) return;
          clearTimeout(timer);
          waiter = undefined;
          resolve(buf);
        };
        port.write(`${cmd}\r`);
      });
    },
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}

async function gone(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Processes whose command line mentions `text` (our socats name their links after the bank dir). */
async function processesMentioning(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ESRCH') return ''; // the process ended while we looked
      throw e;
    });
    if (cmd.includes(text)) out.push(Number(d));
  }
  return out;
}

describe('SimulatedBank on socat PTYs', () => {
  const bank = new SimulatedBank();
  let paths: string[] = [];

  beforeAll(async () => {
    paths = await bank.start({
      ports: 4, seed: 7, consecutiveIccids: true, smsPerModem: 5,
      profiles: ['simcom-sim800', 'quectel-ec25', 'huawei-e173', 'wavecom-q2403'],
    });
  });

  afterAll(async () => {
    await bank.stop();
  });

  it('names the ports like /dev/serial/by-path and links them to /dev/pts', async () => {
    expect(paths.map((p) => p.slice(bank.dir.length))).toEqual([1, 2, 3, 4].map((n) => `/by-path/sim-usb-0:1.${n}:1.0-port0`));
    for (const p of paths) expect(await readlink(p)).toMatch(/^\/dev\/pts\/\d+$/);
  });

  it('answers ATI, AT+CGSN and AT+CMGL=4 on every port, byte for byte as the profile says', async () => {
    for (const [i, path] of paths.entries()) {
      const c = await connect(path);
      const m = bank.modem(i);
      expect(await c.ask('ATI')).toBe(`ATI\r\r\n${m.profile.ati.map((l) => l.replace('{imei}', m.state.imei)).join('\r\n')}\r\n\r\nOK\r\n`);
      expect(await c.ask('AT+CGSN')).toBe(`AT+CGSN\r\r\n${m.state.imei}\r\n\r\nOK\r\n`);
      const listing = await c.ask('AT+CMGL=4');
      const lines = listing.split('\r\n').filter((l) => l !== '' && l !== 'OK' && !l.startsWith('AT+') && !l.startsWith('^'));
      const stored = m.state.sim?.sms ?? [];
      expect(lines.length).toBe(stored.length * 2);
      for (let k = 1; k < lines.length; k += 2) {
        const d = decodePdu(lines[k] ?? '');
        expect('error' in d ? d.error : d.type).toBe('deliver');
      }
      await c.close();
    }
  });

  it('hands out distinct IMEIs and consecutive, Luhn-valid ICCIDs (one bulk batch)', async () => {
    const imeis = paths.map((_, i) => bank.modem(i).state.imei);
    expect(new Set(imeis).size).toBe(4);
    const iccids = paths.map((_, i) => bank.modem(i).state.sim?.iccid ?? '');
    for (const id of iccids) expect(luhnValid(id) && id.startsWith('898600')).toBe(true);
    const serials = iccids.map((id) => Number(id.slice(13, 19)));
    expect(serials.map((s) => s - (serials[0] ?? 0))).toEqual([0, 1, 2, 3]);
    const c = await connect(paths[0] ?? '');
    expect(await c.ask('AT+CCID')).toBe(`AT+CCID\r\r\n${iccids[0]}\r\n\r\nOK\r\n`);
    await c.close();
  });

  it('unplug: the client port closes as disconnected and the link vanishes; replug: same name, fresh settings', async () => {
    const path = paths[1] ?? '';
    const c = await connect(path);
    expect(await c.ask('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    await bank.unplug(1);
    const err = await c.closed;
    expect(err?.disconnected).toBe(true);
    expect(await gone(path)).toBe(true);
    const other = await connect(paths[0] ?? '');
    expect(await other.ask('AT')).toBe('AT\r\r\nOK\r\n');
    await other.close();
    await bank.replug(1);
    expect(await readlink(path)).toMatch(/^\/dev\/pts\/\d+$/);
    const again = await connect(path);
    // A re-plugged module has forgotten ATE0 (at-commands.md §4: rerun the init after reopen).
    expect(await again.ask('AT')).toBe('AT\r\r\nOK\r\n');
    await again.close();
  });

  it('unplug-mid-command: part of the answer arrives, then the port goes away', async () => {
    const c = await connect(paths[3] ?? '');
    bank.setFaults(3, { 'unplug-mid-command': { afterFraction: 0.5, times: 1 } });
    const got = c.ask('AT+CGMR', /never/, 5000).catch((e: Error) => e.message);
    const err = await c.closed;
    expect(err?.disconnected).toBe(true);
    expect(await got).toMatch(/AT\+CGMR\\r\\r\\n641b09gg/);
    expect(await gone(paths[3] ?? '')).toBe(true);
    await bank.replug(3);
    const again = await connect(paths[3] ?? '');
    expect(await again.ask('AT+CGMM')).toBe('AT+CGMM\r\r\nMULTIBAND  900E  1800\r\n\r\nOK\r\n');
    await again.close();
  });

  it('stop() leaves no socat behind and removes its directory', async () => {
    const extra = new SimulatedBank();
    await extra.start({ ports: 2, seed: 1, profiles: 'generic' });
    const dir = extra.dir;
    await extra.replug(0);
    const pids = extra.socatPids();
    expect(pids.length).toBe(3);
    expect((await processesMentioning(dir)).length).toBe(2);
    await extra.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(await processesMentioning(dir)).toEqual([]);
    expect(await gone(dir)).toBe(true);
  });
});

describe('replay of a dump on PTYs', () => {
  it('serves each recorded port and answers its commands as recorded', async () => {
    const dump = await mkdtemp(join(tmpdir(), 'goipwatch-dump-'));
    const e = (n: number, dir: TranscriptEntry['dir'], text: string): TranscriptEntry => ({ n, wall: '2025-03-01T10:00:00.000Z', mono: n, dir, text });
    await writeFile(join(dump, 'port1.transcript'), serialiseTranscript([
      e(1, 'tx', 'ATE0\\r'), e(2, 'rx', 'ATE0'), e(3, 'rx', 'OK'), e(4, 'note', 'echo off'),
      e(5, 'tx', 'AT+CGSN\\r'), e(6, 'rx', '356936001568843'), e(7, 'rx', 'OK'),
    ], '/dev/serial/by-path/platform-usb-0:1.3:1.0-port0'));
    await writeFile(join(dump, 'README.txt'), 'not a transcript\n');
    const bank = await startReplayBank(dump);
    try {
      expect(bank.recorded.map((r) => r.port)).toEqual(['/dev/serial/by-path/platform-usb-0:1.3:1.0-port0']);
      const c = await connect(bank.paths[0] ?? '');
      expect(await c.ask('ATE0')).toBe('ATE0\r\r\nOK\r\n');
      expect(await c.ask('AT+CGSN')).toBe('\r\n356936001568843\r\n\r\nOK\r\n');
      expect(await c.ask('AT+CMGD=1,4')).toBe('\r\nERROR\r\n');
      expect(bank.transcriptModem(0).notes.join('\n')).toMatch(/AT\+CMGD=1,4.*not in the transcript/);
      await c.close();
    } finally {
      await bank.stop();
      await rm(dump, { recursive: true, force: true });
    }
  });
});
