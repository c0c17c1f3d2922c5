import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject } from '../../src/config/load.js';
import {
  checkBroker, checkBrokerTls, checkCaptureCapability, checkClock, checkConfig, checkDisk, diskNeededBytes, checkModemManager, checkSerialPorts,
} from '../../src/doctor.js';
import { renderDoctor } from '../../src/cli/doctor.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goipwatch-doctor-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(obj: Record<string, unknown>) {
  return (await configFromObject(obj, { env: {}, baseDir: dir })).config;
}

/** A loopback port with nothing listening: bind, note the port, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('doctor checks', () => {
  it('config: a valid file passes, a broken one fails with a fix and the defaults are used', async () => {
    const good = join(dir, 'good.yaml');
    await writeFile(good, 'probe: {id: t1}\n');
    const ok = await checkConfig(good, {});
    expect(ok.check.ok).toBe(true);
    expect(ok.config.probe.id).toBe('t1');

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'capture: {snaplen: 1}\n');
    const failed = await checkConfig(bad, {});
    expect(failed.check.ok).toBe(false);
    expect(failed.check.detail).toMatch(/capture\.snaplen \(line 1\): must be a whole number/);
    expect(failed.check.fix).toBeTruthy();
    expect(failed.config.capture.snaplen).toBe(65535);
  });

  it('free disk: reports the free space at the store path, and fails against an absurd quota', async () => {
    const small = await checkDisk(await config({ probe: { stateDir: join(dir, 'state/not/yet') }, store: { quotaMb: 16 } }));
    expect(small.ok).toBe(true);
    expect(small.detail).toMatch(new RegExp(`\\d+ MiB free at ${dir}; store 0 of 16 MiB quota`));
    const huge = await checkDisk(await config({ probe: { stateDir: dir }, store: { quotaMb: 1048576 } }));
    expect(huge.ok).toBe(false);
    expect(huge.fix).toMatch(/lower store\.quotaMb/);
    // Evidence files count too (never deleted by the probe): their cap must fit beside the store.
    const withEvidence = await checkDisk(await config({ probe: { stateDir: dir }, capture: { interfaces: ['eth0'], evidenceMaxMb: 65536 }, store: { quotaMb: 16 } }));
    expect(withEvidence.detail).toMatch(/; evidence files 0 of 65536 MiB$/);
    const MiB = 1024 * 1024;
    const capturing = await config({ capture: { interfaces: ['eth0'], evidenceMaxMb: 256 }, store: { quotaMb: 16 } });
    expect(diskNeededBytes(capturing, 4 * MiB, 100 * MiB)).toBe((16 - 4 + 256 - 100 + 64) * MiB);
    expect(diskNeededBytes(capturing, 20 * MiB, 300 * MiB)).toBe(64 * MiB); // both over their caps: headroom only
    const notCapturing = await config({ capture: { interfaces: [], evidenceMaxMb: 256 }, store: { quotaMb: 16 } });
    expect(diskNeededBytes(notCapturing, 0, 0)).toBe((16 + 64) * MiB);
  });

  it('broker: a closed loopback port gives ok=false with a fix', async () => {
    const port = await closedPort();
    const c = await checkBroker((await config({ mqtt: { url: `mqtt://127.0.0.1:${port}` } })).mqtt, 2000);
    expect(c.ok).toBe(false);
    expect(c.detail).toContain('ECONNREFUSED');
    expect(c.fix).toMatch(/nothing listens on that port/);
  });

  it('broker: a listening loopback port passes; no mqtt section is skipped', async () => {
    const server = createServer((s) => s.destroy());
    const port = await listen(server);
    try {
      const c = await checkBroker((await config({ mqtt: { url: `mqtt://127.0.0.1:${port}` } })).mqtt);
      expect(c.ok).toBe(true);
    } finally {
      server.close();
    }
    const skipped = await checkBroker(undefined);
    expect(skipped).toMatchObject({ ok: true, skipped: true });
  });

  it.skipIf(!existsSync('/usr/bin/openssl'))('broker TLS: verifies with the configured CA and explains a self-signed failure', async () => {
    const key = join(dir, 'broker.key');
    const cert = join(dir, 'broker.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const server = createTlsServer({ key: await readFile(key), cert: await readFile(cert) }, (s) => s.end());
    const port = await listen(server);
    try {
      const withCa = await checkBrokerTls((await config({ mqtt: { url: `mqtts://127.0.0.1:${port}`, tls: { ca: cert } } })).mqtt);
      expect(withCa.ok, withCa.detail).toBe(true);
      expect(withCa.detail).toMatch(/TLSv1\.[23]; broker certificate localhost valid until/);
      const noCa = await checkBrokerTls((await config({ mqtt: { url: `mqtts://127.0.0.1:${port}` } })).mqtt);
      expect(noCa.ok).toBe(false);
      expect(noCa.fix).toMatch(/set mqtt\.tls\.ca/);
    } finally {
      server.close();
    }
  });

  it('clock: says which method it used', async () => {
    const c = await checkClock(await config({}));
    expect(['timedatectl', 'timesync-flag', 'year-heuristic']).toContain(c.method);
    const runDir = join(dir, 'run-empty');
    await mkdir(runDir, { recursive: true });
    const at1970 = await checkClock(await config({}), { runDir, timedatectl: '/nonexistent/timedatectl', now: () => new Date(0) });
    expect(at1970).toMatchObject({ ok: false, method: 'year-heuristic' });
    expect(at1970.fix).toMatch(/NTP/);
    await mkdir(join(runDir, 'systemd/timesync'), { recursive: true });
    const flag = await checkClock(await config({}), { runDir, timedatectl: '/nonexistent/timedatectl' });
    expect(flag).toMatchObject({ ok: false, method: 'timesync-flag' });
    await writeFile(join(runDir, 'systemd/timesync/synchronized'), '');
    expect(await checkClock(await config({}), { runDir, timedatectl: '/nonexistent/timedatectl' })).toMatchObject({ ok: true, method: 'timesync-flag' });
    expect(await checkClock(await config({ clock: { ntpCheck: false } }))).toMatchObject({ ok: true, skipped: true, method: 'off' });
  });

  it('capture capability: reads CapEff for CAP_NET_RAW (bit 13) when not root', async () => {
    const status = (eff: string): string => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${eff}\nCapAmb:\t${eff}\n`;
    expect(await checkCaptureCapability({ uid: 0 })).toMatchObject({ ok: true });
    const raw = await checkCaptureCapability({ uid: 1000, statusText: status('0000000000003000') });
    expect(raw).toMatchObject({ ok: true });
    expect(raw.detail).toMatch(/CAP_NET_RAW and CAP_NET_ADMIN, ambient/);
    const none = await checkCaptureCapability({ uid: 1000, statusText: status('0000000000000000'), serviceCaps: '' });
    expect(none.ok).toBe(false);
    expect(none.fix).toMatch(/AmbientCapabilities=CAP_NET_RAW/);
    const viaUnit = await checkCaptureCapability({ uid: 1000, statusText: status('0000000000000000'), serviceCaps: 'cap_net_admin cap_net_raw\n' });
    expect(viaUnit.ok).toBe(true);
    expect(viaUnit.detail).toMatch(/goipwatch\.service grants cap_net_admin cap_net_raw/);
  });

  it('ModemManager: a running ModemManager without the udev rule fails with the rule as the fix', async () => {
    const proc = join(dir, 'proc');
    await mkdir(join(proc, '4242/fd'), { recursive: true });
    await writeFile(join(proc, '4242/comm'), 'ModemManager\n');
    await mkdir(join(proc, '1'), { recursive: true });
    await writeFile(join(proc, '1/comm'), 'systemd\n');
    const rule = join(dir, '99-goipwatch-modems.rules');
    const c = await checkModemManager([], { procDir: proc, udevRulePath: rule });
    expect(c).toMatchObject({ ok: false });
    expect(c.detail).toMatch(/pid 4242/);
    expect(c.fix).toMatch(/99-goipwatch-modems\.rules.*udevadm trigger/);
    await writeFile(rule, '# installed\n');
    expect(await checkModemManager([], { procDir: proc, udevRulePath: rule })).toMatchObject({ ok: true });
    const empty = join(dir, 'proc-empty');
    await mkdir(empty, { recursive: true });
    expect(await checkModemManager([], { procDir: empty })).toMatchObject({ ok: true, detail: 'not running' });
  });

  it('serial ports: a configured port that is missing fails with where to look', async () => {
    const cfg = await config({ modems: { ports: [{ path: '/dev/serial/by-path/goipwatch-test-missing-port0' }] } });
    const c = await checkSerialPorts(cfg, cfg.modems.ports.map((p) => p.path));
    expect(c.ok).toBe(false);
    expect(c.fix).toMatch(/ls -l \/dev\/serial\/by-path/);
    expect(await checkSerialPorts(await config({ modems: { enabled: false } }), [])).toMatchObject({ ok: true, skipped: true });
  });

  it('renders a table with the fix under each failed check', () => {
    const text = renderDoctor({ ok: false, checks: [
      { name: 'config', ok: true, detail: 'fine' },
      { name: 'broker reachable', ok: false, detail: 'ECONNREFUSED', fix: 'start the broker' },
      { name: 'broker TLS', ok: true, skipped: true, detail: 'mqtt://' },
    ] });
    expect(text).toMatch(/^ok {4}config {12}fine$/m);
    expect(text).toMatch(/^FAIL {2}broker reachable {2}ECONNREFUSED\n {24}fix: start the broker$/m);
    expect(text).toMatch(/^skip {2}broker TLS/m);
    expect(text).toMatch(/1 check failed$/);
  });
});
