/**
 * A real mosquitto broker for tests (Debian's /usr/sbin/mosquitto), on a free loopback port, with
 * a generated config in a fresh temp dir. Optional TLS with a test CA, server and client
 * certificates made by `openssl` here (EC P-256, valid 2 days).
 *
 *   const broker = await startMosquitto();                 // mqtt://127.0.0.1:<port>
 *   const tlsBroker = await startMosquitto({ tls: { requireCertificate: true } });
 *   tlsBroker.url                                          // mqtts://127.0.0.1:<port>
 *   tlsBroker.tls.{caFile, clientCertFile, clientKeyFile}  // for clients
 *   await broker.stop();      // SIGTERM (persistence saved when enabled), wait for exit
 *   await broker.kill();      // SIGKILL: a crash, nothing saved
 *   await broker.restart();   // start again: same port, same config, same files
 *   await broker.dispose();   // stop and remove the temp dir (call in afterAll/afterEach)
 *
 * Readiness: mosquitto logs "mosquitto version … running" to stderr once its listeners are open.
 * As root (CI containers) the config says `user root`, else mosquitto 2 would switch to the
 * `mosquitto` user and could not read the temp dir.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const MOSQUITTO_BIN = process.env.GOIPWATCH_MOSQUITTO ?? '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Listen here instead of a fresh free port (e.g. a port a client is already retrying). */
  port?: number;
  /** Keep retained messages and persistent sessions across stop()/restart() (saved on SIGTERM). Default false. */
  persistence?: boolean;
  /** A TLS listener instead of plain TCP. */
  tls?: { requireCertificate?: boolean };
  /** Extra config lines appended as they are. */
  extraConfig?: string[];
  /** ms to wait for "running" (default 5000). */
  timeoutMs?: number;
}

export interface MosquittoTlsFiles {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface Mosquitto {
  host: '127.0.0.1';
  port: number;
  /** mqtt://127.0.0.1:<port> or mqtts://… */
  url: string;
  dir: string;
  /** Present when started with `tls`. */
  tls: MosquittoTlsFiles | undefined;
  /** Whether the broker process is up. */
  running(): boolean;
  /** Everything mosquitto wrote to stderr (all runs). */
  log(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'goipwatch-mosquitto-'));
  const port = opts.port ?? (await freePort());
  const tls = opts.tls ? await makeTestPki(dir) : undefined;
  const config = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence ${opts.persistence ? 'true' : 'false'}`,
    `persistence_location ${dir}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_timestamp_format %H:%M:%S',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    ...(tls
      ? [`cafile ${tls.caFile}`, `certfile ${tls.serverCertFile}`, `keyfile ${tls.serverKeyFile}`, `require_certificate ${opts.tls?.requireCertificate ? 'true' : 'false'}`]
      : []),
    ...(opts.extraConfig ?? []),
  ];
  const configFile = join(dir, 'mosquitto.conf');
  await writeFile(configFile, `${config.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const launch = async (): Promise<void> => {
    const start = stderr.length;
    const proc = spawn(MOSQUITTO_BIN, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    let spawnError: Error | undefined;
    proc.once('error', (e) => (spawnError = e));
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (s: string) => (stderr += s));
    const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
    for (;;) {
      if (spawnError || proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`mosquitto did not start: ${spawnError?.message ?? `exit ${proc.exitCode ?? proc.signalCode}`}\n${stderr.slice(start)}`);
      }
      if (/ running/.test(stderr.slice(start))) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto not running after ${opts.timeoutMs ?? 5_000} ms\n${stderr.slice(start)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(sig);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };

  await launch().catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });

  return {
    host: '127.0.0.1',
    port,
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    dir,
    tls,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    log: () => stderr,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
    dispose: async () => {
      await signal('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A test CA, a server certificate for 127.0.0.1/localhost and a client certificate (CN goipwatch-test-probe). */
async function makeTestPki(dir: string): Promise<MosquittoTlsFiles> {
  const f = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=goipwatch test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await writeFile(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'localhost'], ['client', 'goipwatch-test-probe']] as const) {
    await openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    await openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  return {
    caFile: f('ca.crt'), serverCertFile: f('server.crt'), serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'), clientKeyFile: f('client.key'),
  };
}
