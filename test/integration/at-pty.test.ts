/**
 * The AT layer over a real pseudo-terminal: NodeSerialBinding (serialport 13, real termios) on
 * one end of a socat PTY pair (test/helpers/pty.ts), and on the other a responder of a few lines
 * written here (not src/modems/simulator, on purpose: this test is about the channel and the
 * port). Killing socat is the unplug: serialport must report 'close' with a disconnected error
 * (at-commands.md §4), and ReconnectingPort must reopen once socat recreates the link.
 */
import { mkdtemp, mkdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { SerialPortStream } from '@serialport/stream';
import { ReadlineParser } from '@serialport/parser-readline';
import { afterEach, describe, expect, it } from 'vitest';
import { AtChannel } from '../../src/at/channel.js';
import { listSerialPorts, probePort } from '../../src/at/discovery.js';
import { createSerialPort } from '../../src/at/serial-port.js';
import { backoffDelayMs, NodeSerialBinding, ReconnectingPort } from '../../src/at/serial-binding.js';
import type { Urc } from '../../src/at/types.js';
import { startPtyPair, type PtyPair } from '../helpers/pty.js';

const silentLog = pino({ level: 'silent' });
const SCRIPT: Record<string, string | null> = {
  AT: '\r\nOK\r\n',
  'ATS3?': '\r\n013\r\n\r\nOK\r\n',
  'AT+CGMI': '\r\nSIMCOM_Ltd\r\n\r\nOK\r\n',
  'AT+CSQ': '\r\n+CSQ: 17,99\r\n\r\nOK\r\n',
  'AT+COPS=?': null, // says nothing: the scan "takes minutes"
};

/** The device end: reads commands ending in CR, echoes them if asked, answers from SCRIPT. */
async function startResponder(path: string, echo: boolean): Promise<SerialPortStream> {
  const port = createSerialPort({ path, baudRate: 115_200 });
  port.on('error', () => undefined); // the unplug also reaches this end; the test looks at the host end
  port.pipe(new ReadlineParser({ delimiter: '\r' })).on('data', (cmd: string) => {
    const reply = cmd in SCRIPT ? SCRIPT[cmd] : '\r\nERROR\r\n';
    if (echo) port.write(cmd + '\r');
    if (reply) port.write(reply);
  });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}

async function waitFor(what: string, cond: () => boolean, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => errors.push(e));
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
});
function closePort(p: SerialPortStream): Promise<void> {
  return new Promise((resolve) => (p.isOpen ? p.close(() => resolve()) : resolve()));
}

describe('AT channel over a socat PTY pair', () => {
  it('does a round trip with echo on, and delivers a URC', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.stop());
    const device = await startResponder(pty.b, true);
    cleanups.push(() => closePort(device));
    const binding = new NodeSerialBinding({ path: pty.a, log: silentLog });
    await binding.open();
    const ch = new AtChannel(binding, { log: silentLog });
    cleanups.push(() => ch.close());
    const urcs: Urc[] = [];
    ch.onUrc((u) => urcs.push(u));

    const res = await ch.send('AT+CGMI');
    expect(res).toMatchObject({ lines: ['SIMCOM_Ltd'], final: 'OK' });
    expect(ch.echo).toBe(true);
    device.write('\r\n+CMTI: "SM",3\r\n');
    await waitFor('the +CMTI URC', () => urcs.length > 0);
    expect(urcs[0]).toMatchObject({ name: '+CMTI', line: '+CMTI: "SM",3', port: pty.a });
    expect((await ch.send('AT+CSQ')).lines).toEqual(['+CSQ: 17,99']);
  });

  it('reports an unplug as a close with an error, fails the command, and reconnects when the link returns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'goipwatch-replug-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    let pty: PtyPair = await startPtyPair({ dir });
    cleanups.push(() => pty.stop());
    let device = await startResponder(pty.b, false);
    cleanups.push(() => closePort(device));

    const binding = new NodeSerialBinding({ path: pty.a, log: silentLog });
    const closes: Array<Error | undefined> = [];
    binding.onClose((e) => closes.push(e));
    const rp = new ReconnectingPort(binding, { initialDelayMs: 50, maxDelayMs: 200, log: silentLog });
    cleanups.push(() => rp.stop());
    expect(await rp.start()).toBe(true);
    const ch = new AtChannel(binding, { log: silentLog });
    expect((await ch.send('AT')).final).toBe('OK');

    // Caught at once: the rejection comes while pty.stop() is still being awaited.
    const scan = ch.send('AT+COPS=?').then(() => new Error('resolved, but should have failed'), (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await pty.stop(); // the unplug
    expect(await scan).toMatchObject({ code: 'GW_AT_CLOSED', context: { disconnected: true } });
    expect(closes).toHaveLength(1);
    expect((closes[0] as Error & { disconnected?: boolean }).disconnected).toBe(true);
    await waitFor('a failed reopen while the link is gone', () => rp.failures >= 1);
    expect(rp.state).toBe('waiting');

    pty = await startPtyPair({ dir }); // the re-plug, under the same name
    device = await startResponder(pty.b, false);
    await waitFor('the reopen', () => rp.state === 'open');
    const after = await ch.send('AT+CGMI');
    expect(after.lines).toEqual(['SIMCOM_Ltd']);
    const notes = ch.transcript().filter((e) => e.dir === 'note').map((e) => e.text);
    expect(notes.some((t) => /port went away/.test(t))).toBe(true);
    expect(notes.at(-1)).toBe('resync ok');
  });

  it('probes the port: AT answered', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.stop());
    const device = await startResponder(pty.b, false);
    cleanups.push(() => closePort(device));
    const binding = new NodeSerialBinding({ path: pty.a, log: silentLog });
    const r = await probePort(binding, { log: silentLog });
    expect(r).toMatchObject({ speaksAt: true, tries: 1, final: 'OK' });
    expect(binding.isOpen).toBe(false); // the probe opened it, so the probe closed it
  });

  it('refuses a second open of a locked port (ModemManager-style contention, §3.8)', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.stop());
    const first = new NodeSerialBinding({ path: pty.a, log: silentLog });
    await first.open();
    cleanups.push(() => first.close());
    await expect(new NodeSerialBinding({ path: pty.a, log: silentLog }).open()).rejects.toMatchObject({ code: 'GW_AT_IO' });
  });
});

describe('port discovery without udevadm', () => {
  it('groups by-path and by-id links by tty and names each port by its by-path link', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.stop());
    const root = await mkdtemp(join(tmpdir(), 'goipwatch-dev-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const [ttyA, ttyB] = [await realpath(pty.a), await realpath(pty.b)];
    await mkdir(join(root, 'by-path'));
    await mkdir(join(root, 'by-id'));
    await symlink(ttyA, join(root, 'by-path', 'platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-port0'));
    await symlink(ttyA, join(root, 'by-path', 'platform-fd500000.pcie-pci-0000:01:00.0-usbv2-0:1.2:1.0-port0'));
    await symlink(ttyA, join(root, 'by-id', 'usb-HUAWEI_HUAWEI_Mobile-if00-port0'));
    await symlink(ttyB, join(root, 'by-id', 'usb-SimTech__Incorporated_SimTech__Incorporated_0123456789ABCDEF-if02-port0'));
    await symlink('/nonexistent/ttyUSB9', join(root, 'by-id', 'usb-gone-if00-port0'));
    const ports = await listSerialPorts({ byPathDir: join(root, 'by-path'), byIdDir: join(root, 'by-id'), log: silentLog });
    expect(ports).toHaveLength(2);
    const a = ports.find((p) => p.tty === ttyA);
    expect(a).toMatchObject({ path: join(root, 'by-path', 'platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-port0'), byId: join(root, 'by-id', 'usb-HUAWEI_HUAWEI_Mobile-if00-port0') });
    expect(ports.find((p) => p.tty === ttyB)).toMatchObject({ path: join(root, 'by-id', 'usb-SimTech__Incorporated_SimTech__Incorporated_0123456789ABCDEF-if02-port0') });
  });

  it('falls back to ttyUSB*/ttyACM* when there are no links, and tolerates missing directories', async () => {
    const dev = await mkdtemp(join(tmpdir(), 'goipwatch-dev-'));
    cleanups.push(() => rm(dev, { recursive: true, force: true }));
    for (const n of ['ttyUSB10', 'ttyUSB2', 'ttyACM0', 'ttyS0', 'ttyUSB']) await writeFile(join(dev, n), '');
    const ports = await listSerialPorts({ byPathDir: join(dev, 'nope'), byIdDir: join(dev, 'nope2'), devDir: dev, log: silentLog });
    expect(ports.map((p) => p.path)).toEqual(['ttyACM0', 'ttyUSB2', 'ttyUSB10'].map((n) => join(dev, n)));
  });
});

describe('reconnect backoff', () => {
  it('grows from 0.5 s, is capped at 30 s, and stays within ±25 %', () => {
    expect([0, 1, 2, 3].map((k) => backoffDelayMs(k, {}, () => 0.5))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelayMs(20, {}, () => 0.5)).toBe(30_000);
    expect(backoffDelayMs(0, {}, () => 0)).toBe(375);
    expect(backoffDelayMs(20, {}, () => 0.999999)).toBeLessThanOrEqual(37_500);
  });
});
