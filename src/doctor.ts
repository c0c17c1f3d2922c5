/**
 * `goipwatch doctor`: what a field officer cannot see, as a list of checks. Each check returns
 * {name, ok, detail, fix}; a check that does not apply (no MQTT section, modems off) is ok and
 * marked skipped. Checks never throw: an unexpected failure is reported as a failed check.
 *
 * Every source of truth (/proc, /run, /sys, /etc/group, the clock) can be pointed elsewhere by a
 * test through DoctorOptions.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile, readdir, readlink, realpath, stat, statfs } from 'node:fs/promises';
import { connect as netConnect, isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { listSerialPorts } from './at/discovery.js';
import { libpcapVersion } from './capture/file-source.js';
import { configFromObject, loadConfig } from './config/load.js';
import type { GoipwatchConfig, MqttConfig } from './config/types.js';
import { describeError } from './errors.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
  /** The check did not apply (e.g. no mqtt section). */
  skipped?: boolean;
}

export type ClockMethod = 'timedatectl' | 'timesync-flag' | 'year-heuristic' | 'off';
export interface ClockCheck extends DoctorCheck { method: ClockMethod }

export interface DoctorOptions {
  configPath: string;
  env?: NodeJS.ProcessEnv;
  /** Connect / TLS handshake timeout, ms. */
  timeoutMs?: number;
  procDir?: string;
  runDir?: string;
  sysNetDir?: string;
  udevRulePath?: string;
  now?: () => Date;
  uid?: number;
}

export interface DoctorReport { ok: boolean; checks: DoctorCheck[] }

const MIB = 1024 * 1024;
const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;
export const UDEV_RULE_PATH = '/etc/udev/rules.d/99-goipwatch-modems.rules';

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const { check: configCheck, config } = await checkConfig(opts.configPath, opts.env);
  const ports = await modemPorts(config);
  const checks: DoctorCheck[] = [configCheck];
  const run = async (name: string, fn: () => Promise<DoctorCheck>): Promise<void> => {
    try {
      checks.push(await fn());
    } catch (e) {
      checks.push({ name, ok: false, detail: `the check itself failed: ${describeError(e)}`, fix: 'report this with the output of goipwatch doctor --json' });
    }
  };
  await run('capture capability', () => checkCaptureCapability(opts));
  await run('capture interfaces', () => checkCaptureInterfaces(config, opts.sysNetDir));
  await run('libpcap', async () => checkLibpcap());
  await run('serial ports', () => checkSerialPorts(config, ports));
  await run('serial access', () => checkSerialAccess(config, ports, opts));
  await run('ModemManager', () => checkModemManager(ports, opts));
  await run('broker reachable', () => checkBroker(config.mqtt, opts.timeoutMs));
  await run('broker TLS', () => checkBrokerTls(config.mqtt, opts.timeoutMs));
  await run('clock', () => checkClock(config, opts));
  await run('free disk', () => checkDisk(config));
  return { ok: checks.every((c) => c.ok), checks };
}

/** Load the config; on failure the other checks run on the defaults. */
export async function checkConfig(path: string, env?: NodeJS.ProcessEnv): Promise<{ check: DoctorCheck; config: GoipwatchConfig }> {
  try {
    const loaded = await loadConfig(path, { env });
    const extra = loaded.warnings.length ? `; warnings: ${loaded.warnings.join('; ')}` : '';
    const envs = loaded.envApplied.length ? ` (+ ${loaded.envApplied.join(', ')})` : '';
    return { check: { name: 'config', ok: true, detail: `${path}${envs} is valid${extra}` }, config: loaded.config };
  } catch (e) {
    const { config } = await configFromObject({}, { env: {} });
    const fix = 'correct the lines named above (keys and ranges: config/goipwatch.example.yaml), then run goipwatch doctor again';
    return { check: { name: 'config', ok: false, detail: `${describeError(e)} — the other checks use the defaults`, fix }, config };
  }
}

/** Live capture needs CAP_NET_RAW (packet sockets); CAP_NET_ADMIN for promiscuous mode on some setups. */
export async function checkCaptureCapability(opts: { uid?: number; procDir?: string; statusText?: string; serviceCaps?: string } = {}): Promise<DoctorCheck> {
  const name = 'capture capability';
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  if (uid === 0) return { name, ok: true, detail: 'running as root (the service itself runs as goipwatch with CAP_NET_RAW)' };
  const status = opts.statusText ?? await readFile(join(opts.procDir ?? '/proc', 'self/status'), 'utf8');
  const caps = (field: string): bigint => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`);
  const has = (set: bigint, cap: bigint): boolean => ((set >> cap) & 1n) === 1n;
  const eff = caps('CapEff');
  const amb = caps('CapAmb');
  if (has(eff, CAP_NET_RAW)) {
    const admin = has(eff, CAP_NET_ADMIN) ? ' and CAP_NET_ADMIN' : ' (no CAP_NET_ADMIN: promiscuous mode may be refused)';
    return { name, ok: true, detail: `this process has CAP_NET_RAW${admin}${has(amb, CAP_NET_RAW) ? ', ambient' : ''}` };
  }
  const unit = opts.serviceCaps ?? await serviceAmbientCaps();
  if (/cap_net_raw/i.test(unit)) {
    return { name, ok: true, detail: `this shell (uid ${uid}) cannot capture, but goipwatch.service grants ${unit.trim()}` };
  }
  return {
    name, ok: false, detail: `uid ${uid} without CAP_NET_RAW (CapEff ${eff.toString(16)}); goipwatch.service: ${unit.trim() || 'not installed'}`,
    fix: 'run it as the service (install systemd/goipwatch.service, which sets AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN), or run doctor with sudo',
  };
}

async function serviceAmbientCaps(): Promise<string> {
  const r = await run('systemctl', ['show', 'goipwatch.service', '-p', 'AmbientCapabilities', '--value'], 2000);
  return r.ok ? r.stdout : '';
}

export async function checkCaptureInterfaces(config: GoipwatchConfig, sysNetDir = '/sys/class/net'): Promise<DoctorCheck> {
  const name = 'capture interfaces';
  const wanted = config.capture.interfaces.filter((i) => i !== 'any');
  if (config.capture.interfaces.length === 0) return { name, ok: true, skipped: true, detail: 'capture.interfaces is empty: live capture is off' };
  const missing = [];
  for (const i of wanted) if (!(await exists(join(sysNetDir, i)))) missing.push(i);
  if (missing.length === 0) return { name, ok: true, detail: config.capture.interfaces.join(', ') };
  return { name, ok: false, detail: `no such interface: ${missing.join(', ')}`, fix: 'check the cable, then list interfaces with `ip link` and correct capture.interfaces' };
}

export async function checkLibpcap(): Promise<DoctorCheck> {
  try {
    return { name: 'libpcap', ok: true, detail: libpcapVersion() };
  } catch (e) {
    return { name: 'libpcap', ok: false, detail: describeError(e), fix: 'sudo apt install libpcap0.8, then in /opt/goipwatch: npm rebuild pcap' };
  }
}

async function modemPorts(config: GoipwatchConfig): Promise<string[]> {
  if (!config.modems.enabled) return [];
  if (config.modems.ports.length > 0) return config.modems.ports.map((p) => p.path);
  return (await listSerialPorts()).map((p) => p.path);
}

export async function checkSerialPorts(config: GoipwatchConfig, ports: string[]): Promise<DoctorCheck> {
  const name = 'serial ports';
  if (!config.modems.enabled) return { name, ok: true, skipped: true, detail: 'modems.enabled is false' };
  const fix = 'plug the modem bank into the USB hub and power it, wait 30 s, then `ls -l /dev/serial/by-path/`; put those paths in modems.ports';
  if (ports.length === 0) return { name, ok: false, detail: 'no serial ports under /dev/serial/by-path or by-id', fix };
  const missing = [];
  for (const p of ports) if (!(await exists(p))) missing.push(p);
  if (missing.length > 0) return { name, ok: false, detail: `${missing.length} of ${ports.length} configured ports missing: ${missing.join(', ')}`, fix };
  const source = config.modems.ports.length > 0 ? 'configured' : 'found';
  return { name, ok: true, detail: `${ports.length} ports ${source}` };
}

/** Read/write on each port, else membership of dialout. */
export async function checkSerialAccess(config: GoipwatchConfig, ports: string[], opts: { uid?: number } = {}): Promise<DoctorCheck> {
  const name = 'serial access';
  if (!config.modems.enabled) return { name, ok: true, skipped: true, detail: 'modems.enabled is false' };
  const fix = 'the service gets the dialout group from SupplementaryGroups=dialout; for a shell: sudo usermod -aG dialout $USER and log in again; check the udev rule sets GROUP="dialout"';
  const denied = [];
  let tried = 0;
  for (const p of ports) {
    try {
      await access(p, constants.R_OK | constants.W_OK);
      tried++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // missing ports are the "serial ports" check's business
      tried++;
      denied.push(p);
    }
  }
  if (denied.length > 0) return { name, ok: false, detail: `no read/write access to ${denied.join(', ')}`, fix };
  if (tried > 0) return { name, ok: true, detail: `read/write on ${tried} port${tried === 1 ? '' : 's'}` };
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  const dialout = /^dialout:[^:]*:(\d+):/m.exec(await readFile('/etc/group', 'utf8').catch((e: unknown) => `# ${describeError(e)}`))?.[1];
  const member = uid === 0 || (dialout !== undefined && (process.getgroups?.() ?? []).includes(Number(dialout)));
  return member ? { name, ok: true, detail: uid === 0 ? 'root' : 'member of dialout (no ports to try)' }
    : { name, ok: false, detail: 'not a member of dialout and no port to try', fix };
}

/** ModemManager probes every new tty and holds it for seconds: keep it off the bank (at-commands.md §3.8). */
export async function checkModemManager(ports: string[], opts: { procDir?: string; udevRulePath?: string } = {}): Promise<DoctorCheck> {
  const name = 'ModemManager';
  const proc = opts.procDir ?? '/proc';
  const pids = [];
  for (const entry of await readdir(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(join(proc, entry, 'comm'), 'utf8').catch(() => ''); // the process may have exited meanwhile
    if (comm.trim() === 'ModemManager') pids.push(entry);
  }
  if (pids.length === 0) return { name, ok: true, detail: 'not running' };
  const fix = `install systemd/99-goipwatch-modems.rules to ${opts.udevRulePath ?? UDEV_RULE_PATH}, then: sudo udevadm control --reload && sudo udevadm trigger && sudo systemctl restart ModemManager (or: sudo systemctl disable --now ModemManager)`;
  const ttys = new Set(await Promise.all(ports.map((p) => realpath(p).catch(() => p))));
  const held: string[] = [];
  let unknown = '';
  for (const pid of pids) {
    try {
      for (const fd of await readdir(join(proc, pid, 'fd'))) {
        const target = await readlink(join(proc, pid, 'fd', fd)).catch(() => ''); // fd closed meanwhile
        if (ttys.has(target)) held.push(target);
      }
    } catch (e) {
      unknown = ` (cannot see its open files: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}; run with sudo to know more)`;
    }
  }
  if (held.length > 0) return { name, ok: false, detail: `ModemManager (pid ${pids.join(', ')}) holds ${held.join(', ')}`, fix };
  if (await exists(opts.udevRulePath ?? UDEV_RULE_PATH)) {
    return { name, ok: true, detail: `running (pid ${pids.join(', ')}), told to ignore the bank by the goipwatch udev rule${unknown}` };
  }
  return { name, ok: false, detail: `running (pid ${pids.join(', ')}) and the goipwatch udev rule is not installed: it will grab the modems${unknown}`, fix };
}

function brokerAddress(url: string): { host: string; port: number; tls: boolean } {
  const u = new URL(url);
  const tls = u.protocol === 'mqtts:';
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || (tls ? 8883 : 1883)), tls };
}

export async function checkBroker(mqtt: MqttConfig | undefined, timeoutMs = 3000): Promise<DoctorCheck> {
  const name = 'broker reachable';
  if (!mqtt) return { name, ok: true, skipped: true, detail: 'no mqtt section: results stay on the probe' };
  const { host, port } = brokerAddress(mqtt.url);
  const started = Date.now();
  const err = await new Promise<Error | undefined>((done) => {
    const socket = netConnect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => { socket.destroy(); done(undefined); });
    socket.once('timeout', () => { socket.destroy(); done(new Error(`no answer within ${timeoutMs} ms`)); });
    socket.once('error', (e) => done(e));
  });
  if (!err) return { name, ok: true, detail: `TCP ${host}:${port} connected in ${Date.now() - started} ms` };
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const fix = code === 'ENOTFOUND' || code === 'EAI_AGAIN'
    ? 'the broker name does not resolve: check the uplink (ping 8.8.8.8) and DNS, or use the broker\'s IP address in mqtt.url'
    : code === 'ECONNREFUSED'
      ? 'the host answers but nothing listens on that port: check the port in mqtt.url and that the broker is running'
      : 'check the uplink (cable, 4G router), then whether a firewall blocks the port; findings are kept and sent when the broker is back';
  return { name, ok: false, detail: `TCP ${host}:${port}: ${code || err.message}`, fix };
}

export async function checkBrokerTls(mqtt: MqttConfig | undefined, timeoutMs = 3000): Promise<DoctorCheck> {
  const name = 'broker TLS';
  if (!mqtt || !mqtt.url.startsWith('mqtts:')) return { name, ok: true, skipped: true, detail: mqtt ? 'mqtt:// (no TLS)' : 'no mqtt section' };
  const { host, port } = brokerAddress(mqtt.url);
  const options: ConnectionOptions = { host, port, rejectUnauthorized: mqtt.tls.rejectUnauthorized, timeout: timeoutMs };
  if (!isIP(host)) options.servername = host;
  try {
    if (mqtt.tls.ca) options.ca = await readFile(mqtt.tls.ca);
    if (mqtt.tls.cert) options.cert = await readFile(mqtt.tls.cert);
    if (mqtt.tls.key) options.key = await readFile(mqtt.tls.key);
  } catch (e) {
    return { name, ok: false, detail: `cannot read a TLS file: ${describeError(e)}`, fix: 'check the paths under mqtt.tls and that the goipwatch group can read them (chmod 0640, chgrp goipwatch)' };
  }
  const result = await new Promise<{ err?: Error; detail?: string }>((done) => {
    const socket = tlsConnect(options, () => {
      const cert = socket.getPeerCertificate();
      done({ detail: `${socket.getProtocol() ?? 'TLS'}; broker certificate ${cert.subject?.CN ?? '?'} valid until ${cert.valid_to ?? '?'}${socket.authorized ? '' : ' (NOT verified: rejectUnauthorized is false)'}` });
      socket.destroy();
    });
    socket.once('timeout', () => { socket.destroy(); done({ err: new Error(`no TLS handshake within ${timeoutMs} ms`) }); });
    socket.once('error', (e) => done({ err: e }));
  });
  if (!result.err) return { name, ok: true, detail: result.detail ?? '' };
  const code = (result.err as NodeJS.ErrnoException).code ?? '';
  const fix = /NOT_YET_VALID|EXPIRED/.test(code) ? 'check the clock first (see the clock check): a Pi without network time believes it is 1970'
    : /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) ? 'set mqtt.tls.ca to the CA certificate that signed the broker\'s certificate'
      : /ALTNAME/.test(code) ? 'the host in mqtt.url must be a name on the broker\'s certificate'
        : 'check that the port in mqtt.url is the broker\'s TLS port (usually 8883)';
  return { name, ok: false, detail: `${code || 'handshake failed'}: ${result.err.message}`, fix };
}

/** NTP synchronisation, by the best source available; says which one it used. */
export async function checkClock(config: GoipwatchConfig, opts: { runDir?: string; now?: () => Date; timedatectl?: string } = {}): Promise<ClockCheck> {
  const name = 'clock';
  if (!config.clock.ntpCheck) return { name, ok: true, skipped: true, method: 'off', detail: 'clock.ntpCheck is false' };
  const now = (opts.now ?? (() => new Date()))();
  const fix = 'give the probe network access to an NTP server (systemd-timesyncd: sudo timedatectl set-ntp true); until then evidence times are marked unsynchronised';
  const r = await run(opts.timedatectl ?? 'timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], 2000);
  const answer = r.stdout.trim();
  if (r.ok && (answer === 'yes' || answer === 'no')) {
    return answer === 'yes' ? { name, ok: true, method: 'timedatectl', detail: `NTP synchronised (timedatectl); now ${now.toISOString()}` }
      : { name, ok: false, method: 'timedatectl', detail: `not synchronised (timedatectl); clock says ${now.toISOString()}`, fix };
  }
  const runDir = opts.runDir ?? '/run';
  if (await exists(join(runDir, 'systemd/timesync'))) {
    return (await exists(join(runDir, 'systemd/timesync/synchronized')))
      ? { name, ok: true, method: 'timesync-flag', detail: `NTP synchronised (/run/systemd/timesync/synchronized); now ${now.toISOString()}` }
      : { name, ok: false, method: 'timesync-flag', detail: `systemd-timesyncd has not synchronised yet; clock says ${now.toISOString()}`, fix };
  }
  const year = now.getUTCFullYear();
  return year >= 2024
    ? { name, ok: true, method: 'year-heuristic', detail: `cannot ask NTP (${r.detail}); the year ${year} looks plausible` }
    : { name, ok: false, method: 'year-heuristic', detail: `the clock says ${now.toISOString()}: the Pi has no battery clock and has not synchronised`, fix };
}

/** Enough free space for the store to grow to its quota, plus a margin for WAL and logs. */
/**
 * Free bytes the probe still needs: the rest of the store quota, the rest of the evidence files'
 * cap when it captures (they are never deleted), and 64 MiB of headroom.
 */
export function diskNeededBytes(config: GoipwatchConfig, storeBytes: number, evidenceBytes: number): number {
  const evidenceMb = config.capture.interfaces.length > 0 ? config.capture.evidenceMaxMb : 0;
  return Math.max(0, config.store.quotaMb * MIB - storeBytes) + Math.max(0, evidenceMb * MIB - evidenceBytes) + 64 * MIB;
}

export async function checkDisk(config: GoipwatchConfig): Promise<DoctorCheck> {
  const name = 'free disk';
  let dir = dirname(config.store.path);
  while (!(await exists(dir)) && dirname(dir) !== dir) dir = dirname(dir);
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  let used = 0;
  for (const f of [config.store.path, `${config.store.path}-wal`]) used += await stat(f).then((s) => s.size, () => 0);
  // Evidence files (live capture only) live beside the store and are never deleted by the probe.
  const evidenceDir = join(config.probe.stateDir, 'evidence');
  let evidence = 0;
  const evidenceMb = config.capture.interfaces.length > 0 ? config.capture.evidenceMaxMb : 0;
  if (evidenceMb > 0) {
    for (const f of await readdir(evidenceDir).catch(() => [] as string[])) evidence += await stat(join(evidenceDir, f)).then((s) => s.size, () => 0);
  }
  const needed = diskNeededBytes(config, used, evidence);
  const detail = `${Math.floor(free / MIB)} MiB free at ${dir}; store ${Math.ceil(used / MIB)} of ${config.store.quotaMb} MiB quota`
    + (evidenceMb > 0 ? `; evidence files ${Math.ceil(evidence / MIB)} of ${evidenceMb} MiB` : '');
  if (free >= needed) return { name, ok: true, detail };
  return { name, ok: false, detail, fix: `free ${Math.ceil((needed - free) / MIB)} MiB (old logs: sudo journalctl --vacuum-size=50M) or lower store.quotaMb / capture.evidenceMaxMb` };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Run a helper program; never throws (a missing program is a normal answer here). */
function run(file: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; stdout: string; detail: string }> {
  return new Promise((done) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const detail = err ? `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : (stderr.trim().split('\n')[0] || err.message)}` : '';
      done({ ok: !err, stdout, detail });
    });
  });
}
