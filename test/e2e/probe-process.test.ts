/**
 * `goipwatch run` as the process systemd starts, on the example config of the repository, with
 * real parts: libpcap on loopback, the SQLite store on disk, a real mosquitto. Two things a probe
 * in a flat lives through:
 *
 *   1. SIGKILL (OOM killer, watchdog, power cut seen from the process) during heavy writes: the
 *      database must pass integrity_check and keep everything the broker had acknowledged;
 *      restarted, the daemon sends what was committed but not acknowledged.
 *   2. The uplink's broker going away for a while and coming back: every finding arrives, and
 *      de-duplicating by message id leaves exactly the findings the store holds.
 *
 *   test ── UDP keep-alives from 127.0.0.2…101 (100 GoIP-like devices) ──► lo
 *                                                 │ libpcap (capture.filter: udp port P)
 *   goipwatch run --config <example with site values> ──► goipwatch.db ──► mosquitto ──► observer
 *
 * The site values are the ones the example's comments tell a field officer to set (probe id,
 * state dir, interface, modem ports, broker URL). The modem bank is the simulated one on socat
 * PTYs, its links made under /dev/shm because the schema takes device paths only (on a probe they
 * are /dev/serial/by-path/…). The broker here is plain MQTT without credentials (TLS: the doctor
 * test below, and mqtt-reporter.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { SimulatedBank } from '../../src/modems/simulator/index.js';
import { freePort, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DEVICES = 100;

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type ConfigDoc = Record<string, Record<string, unknown>>;

function exampleConfig(): ConfigDoc {
  return parse(readFileSync(join(ROOT, 'config', 'goipwatch.example.yaml'), 'utf8')) as ConfigDoc;
}

/** The example config with the values a field officer sets for a site, written to `dir`. */
function siteConfig(dir: string, brokerUrl: string, udpPort: number, modemPorts: string[]): string {
  const cfg = exampleConfig();
  cfg.probe = { ...cfg.probe, id: 'probe-proc', stateDir: dir };
  cfg.capture = { ...cfg.capture, interfaces: ['lo'], filter: `udp port ${udpPort}`, reportIntervalS: 1 };
  cfg.modems = { ...cfg.modems, enabled: true, ports: modemPorts.map((path) => ({ path })) };
  const { username: _u, passwordFile: _p, tls: _t, ...mqttRest } = cfg.mqtt!;
  cfg.mqtt = { ...mqttRest, url: brokerUrl, backoff: { initialMs: 200, maxMs: 1000 } };
  cfg.clock = { ntpCheck: false };
  const path = join(dir, 'config.yaml');
  writeFileSync(path, stringify(cfg));
  return path;
}

interface Probe {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log(): string;
}

async function startProbe(config: string): Promise<Probe> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GOIPWATCH_LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await until('the probe to start', () => {
    if (child.exitCode !== null) throw new Error(`goipwatch run exited ${child.exitCode}: ${stderr}`);
    return stderr.includes('probe running');
  }, 20_000);
  return { child, exited, log: () => stderr };
}

/** 100 GoIP-like devices on 127.0.0.2…101 sending keep-alives (goip-protocols.md §1.1.1 format) round-robin. */
async function startTraffic(udpPort: number): Promise<{ sent: () => number; stop: () => void }> {
  const sockets: Socket[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, `127.0.0.${i + 2}`, resolve));
    sockets.push(s);
  }
  let n = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < 10; k++, n++) {
      const i = n % DEVICES;
      const imsi = `4600${String(100000000 + i * 7919).padStart(11, '0')}`;
      const ka = `req:${n};id:gw${i};pass:pw;num:;signal:${20 + (n % 9)};gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:86749502${String(1000000 + i).slice(-7)};imsi:${imsi};iccid:8986001${String(100000000000 + i)};pro:CMCC;idle:${n % 60};disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;`;
      sockets[i]!.send(ka, udpPort, '127.0.0.1');
    }
  }, 10);
  return {
    sent: () => n,
    stop: () => {
      clearInterval(timer);
      for (const s of sockets) s.close();
    },
  };
}

function openStore(dir: string): Database.Database {
  return new Database(join(dir, 'goipwatch.db'), { readonly: true, fileMustExist: true });
}

describe('goipwatch run as a process', () => {
  let broker: Mosquitto | undefined;
  let observer: mqtt.MqttClient | undefined;
  let probe: Probe | undefined;
  let traffic: { stop: () => void } | undefined;
  const bank = new SimulatedBank();
  let bankDir: string | undefined;

  afterAll(async () => {
    traffic?.stop();
    if (probe && probe.child.exitCode === null) probe.child.kill('SIGKILL');
    await bank.stop();
    if (bankDir) await rm(bankDir, { recursive: true, force: true });
    await observer?.endAsync(true);
    await broker?.dispose();
  });

  it('survives SIGKILL during heavy writes and a broker outage: nothing acknowledged is lost, every finding arrives', async () => {
    broker = await startMosquitto({ persistence: true });
    const dir = mkdtempSync(join(tmpdir(), 'gw-proc-'));
    const udpPort = 30000 + Math.floor(Math.random() * 20000);
    bankDir = await mkdtemp('/dev/shm/goipwatch-bank-');
    const modemPorts = await bank.start({ ports: 2, seed: 11, profiles: 'quectel-ec25', dir: bankDir });
    const config = siteConfig(dir, broker.url, udpPort, modemPorts);

    // Central monitoring: a persistent session, so nothing is missed while the broker restarts.
    const received: string[] = [];
    const surveyed: string[] = [];
    observer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: false, clientId: 'central-proc', properties: { sessionExpiryInterval: 600 } });
    observer.on('message', (topic, payload) => {
      if (topic.endsWith('/survey')) surveyed.push(payload.toString());
      else received.push((JSON.parse(payload.toString()) as { id: string }).id);
    });
    await observer.subscribeAsync(['goipwatch/probe-proc/findings', 'goipwatch/probe-proc/survey'], { qos: 1 });

    // 1. Heavy writes: every device's finding changes with each keep-alive count, so each 1 s
    //    report rewrites ~100 findings and queues ~100 messages. Kill in the middle of it.
    probe = await startProbe(config);
    traffic = await startTraffic(udpPort);
    await until('findings of most devices on MQTT', () => new Set(received).size >= 150);
    probe.child.kill('SIGKILL');
    expect((await probe.exited).signal).toBe('SIGKILL');
    const acknowledged = new Set(received);

    let db = openStore(dir);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const kept = new Set((db.prepare("SELECT id FROM outbox WHERE topic = 'findings'").all() as Array<{ id: string }>).map((r) => r.id));
    const lost = [...acknowledged].filter((id) => !kept.has(id));
    expect(lost).toEqual([]);
    const findingsBefore = (db.prepare('SELECT count(*) n FROM findings').get() as { n: number }).n;
    expect(findingsBefore).toBeGreaterThanOrEqual(DEVICES / 2);
    db.close();

    // 2. Restarted, with traffic still flowing; then the broker goes away and comes back.
    probe = await startProbe(config);
    const atRestart = received.length;
    await until('findings after the restart', () => received.length >= atRestart + 100);
    await broker.stop();
    await new Promise((r) => setTimeout(r, 3_000)); // three reports queue up on the probe meanwhile
    await broker.restart();
    const atReturn = received.length;
    await until('findings after the broker came back', () => received.length >= atReturn + 100);
    traffic.stop();
    traffic = undefined;

    // Let the last report go out: every finding message in the store sent and received.
    const pendingFindings = (): number => {
      const d = openStore(dir);
      try {
        return (d.prepare("SELECT count(*) n FROM outbox WHERE topic = 'findings' AND state != 'sent'").get() as { n: number }).n;
      } finally {
        d.close();
      }
    };
    await new Promise((r) => setTimeout(r, 1_500)); // one report interval after the last packet
    await until('the outbox drained', () => pendingFindings() === 0);
    probe.child.kill('SIGTERM');
    expect(await probe.exited).toEqual({ code: 0, signal: null });
    expect(probe.log()).toContain('probe stopped');

    db = openStore(dir);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // The bank was surveyed at each start: both modules, in the store and at central monitoring.
    const imeis = (db.prepare('SELECT DISTINCT imei FROM modem_surveys').all() as Array<{ imei: string }>).map((r) => r.imei).sort();
    expect(imeis).toEqual([bank.modem(0).state.imei, bank.modem(1).state.imei].sort());
    for (const imei of imeis) expect(surveyed.some((text) => text.includes(imei))).toBe(true);
    const stored = (db.prepare("SELECT id FROM outbox WHERE topic = 'findings'").all() as Array<{ id: string }>).map((r) => r.id);
    // Evidence files: the one the SIGKILL left open was hashed as found at the restart (and says
    // so); the second run's was closed and hashed at SIGTERM. Each hash is the file's.
    const evidence = db.prepare('SELECT name, sha256, frames, note FROM evidence_files ORDER BY name').all() as Array<{ name: string; sha256: string | null; frames: number; note: string | null }>;
    expect(evidence.length).toBeGreaterThanOrEqual(2);
    for (const e of evidence) {
      expect(e.sha256).toBe(createHash('sha256').update(readFileSync(join(dir, 'evidence', e.name))).digest('hex'));
      expect(e.frames).toBeGreaterThan(0);
    }
    expect(evidence.filter((e) => e.note !== null).map((e) => e.note)).toEqual([expect.stringMatching(/unclean stop/) as string]);
    const devices = (db.prepare("SELECT count(DISTINCT device) n FROM findings").get() as { n: number }).n;
    db.close();
    expect(devices).toBe(DEVICES);
    await until('every stored finding at central monitoring', () => {
      const got = new Set(received);
      return stored.every((id) => got.has(id));
    }, 15_000);
    const unique = new Set(received);
    // Nothing arrives that the probe did not store, and de-duplicating by id leaves each once.
    expect([...unique].filter((id) => !stored.includes(id))).toEqual([]);
    expect(unique.size).toBe(new Set(stored).size);
    // At least once: what was in flight at the kill or the outage may arrive twice, no more.
    const twice = received.length - unique.size;
    expect(twice).toBeLessThan(stored.length / 2);
  }, 120_000);

  it('doctor: a clean bill for a probe set up as the example says, and a fix for each fault of a broken one', async () => {
    const tls = await startMosquitto({ tls: { requireCertificate: true } });
    const dir = mkdtempSync(join(tmpdir(), 'gw-doctor-'));
    try {
      const password = join(dir, 'mqtt-password');
      writeFileSync(password, 'not-logged\n', { mode: 0o640 });
      const cfg = exampleConfig();
      cfg.probe = { ...cfg.probe, id: 'probe-doc', stateDir: dir };
      cfg.capture = { ...cfg.capture, interfaces: ['lo'] };
      cfg.modems = { ...cfg.modems, enabled: false };
      // The example's TLS shape: the site CA, a client certificate, a password file.
      cfg.mqtt = { ...cfg.mqtt, url: tls.url, passwordFile: password, tls: { ca: tls.tls!.caFile, cert: tls.tls!.clientCertFile, key: tls.tls!.clientKeyFile, rejectUnauthorized: true } };
      const good = join(dir, 'good.yaml');
      writeFileSync(good, stringify(cfg));
      const clean = spawnSync(process.execPath, [CLI, 'doctor', '--config', good], { encoding: 'utf8' });
      expect(clean.stdout).toContain('all checks passed');
      expect(clean.stdout).not.toContain('FAIL');
      expect(clean.stdout).toMatch(/ok +broker TLS/);
      expect(clean.stdout + clean.stderr).not.toContain('not-logged');
      expect(clean.status).toBe(0);

      // Broken: a typo in the interface, the broker address of another site, a modem port that is not there.
      cfg.capture = { ...cfg.capture, interfaces: ['etho0'] };
      cfg.mqtt = { ...cfg.mqtt, url: `mqtts://127.0.0.1:${await freePort()}` };
      cfg.modems = { ...cfg.modems, enabled: true, ports: [{ path: '/dev/serial/by-path/platform-usb-0:9.9:1.0-port0' }] };
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, stringify(cfg));
      const broken = spawnSync(process.execPath, [CLI, 'doctor', '--config', bad], { encoding: 'utf8' });
      expect(broken.status).toBe(1);
      for (const check of ['capture interfaces', 'broker reachable', 'serial ports']) {
        // Each failed check is followed by the line that says how to fix it.
        expect(broken.stdout).toMatch(new RegExp(`FAIL +${check} .*\\n +fix: \\S`));
      }
      expect(broken.stdout).toMatch(/\d+ checks failed/);
    } finally {
      await tls.dispose();
    }
  });
});
