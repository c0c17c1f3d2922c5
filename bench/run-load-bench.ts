/**
 * CPU and memory of `goipwatch run` fed 10,000 packets/s (issue "Probe daemon").
 *
 * Starts the daemon as a child process (live capture on loopback through libpcap with a BPF filter
 * for the bench port, no modem bank, no broker: the store still takes every finding), sends
 * synthetic RTP datagrams (G.729, 20 ms) mixed with GoIP keep-alives and SIP OPTIONS at --pps on
 * loopback for --seconds, and samples the child's CPU time and RSS from /proc every second.
 *   node dist/bench/run-load-bench.js [--pps 10000] [--seconds 20] [--evidence-buffer-mb 8]
 * (--evidence-buffer-mb: capture.evidenceBufferMb, the ring of recent packets kept for evidence files)
 * Needs CAP_NET_RAW (root here, as in CI). The traffic is synthetic.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const TICKS = 100; // USER_HZ on Linux

function sample(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuS, rssMb: Number(rss ?? 0) / 1024 };
}

async function main(): Promise<void> {
  const pps = arg('pps', 10_000);
  const seconds = arg('seconds', 20);
  const evidenceMb = arg('evidence-buffer-mb', 8);
  const port = 30000 + Math.floor(Math.random() * 20000);
  const dir = mkdtempSync(join(tmpdir(), 'gw-load-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, [
    'version: 1',
    `probe: { id: load-bench, stateDir: ${dir} }`,
    `capture: { interfaces: [lo], filter: "udp and port ${port}", bufferSizeMb: 16, evidenceBufferMb: ${evidenceMb} }`,
    'modems: { enabled: false }',
    'store: { path: probe.db, quotaMb: 64 }',
    'heartbeat: { intervalS: 10 }',
    'log: { level: warn }',
  ].join('\n'));
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'run', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 1500));
  if (child.exitCode !== null) throw new Error(`goipwatch run exited with ${child.exitCode}`);
  const sock = createSocket('udp4');
  const rtp = Buffer.alloc(32);
  rtp[0] = 0x80;
  rtp[1] = 18;
  const keepAlive = Buffer.from('req:1;id:goip-1;pass:x;num:;signal:20;gsm_status:LOGIN;voip_status:LOGIN;voip_state:IDLE;remain_time:-1;imei:867495023958030;imsi:460001234567890;iccid:89860012345678901234;pro:CMCC;');
  const options = Buffer.from(`OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK1\r\nCall-ID: x@y\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\nUser-Agent: dble\r\nContent-Length: 0\r\n\r\n`);
  const start = sample(child.pid!);
  let peakRss = start.rssMb;
  let sent = 0;
  const t0 = performance.now();
  const perTick = pps / 100; // every 10 ms
  for (let tick = 0; tick < seconds * 100; tick++) {
    for (let i = 0; i < perTick; i++) {
      const n = sent++;
      rtp.writeUInt16BE(n & 0xffff, 2);
      const payload = n % 1000 === 0 ? keepAlive : n % 1000 === 500 ? options : rtp;
      sock.send(payload, port, '127.0.0.1');
    }
    if (tick % 100 === 0) peakRss = Math.max(peakRss, sample(child.pid!).rssMb);
    const due = t0 + (tick + 1) * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const end = sample(child.pid!);
  peakRss = Math.max(peakRss, end.rssMb);
  sock.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const cpuPct = ((end.cpuS - start.cpuS) / elapsed) * 100;
  // What the daemon itself says it captured: the last heartbeat in its outbox.
  const db = new Database(join(dir, 'probe.db'), { readonly: true });
  const hb = db.prepare("SELECT payload FROM outbox WHERE topic = 'heartbeat' ORDER BY created_at DESC LIMIT 1").get() as { payload: string } | undefined;
  db.close();
  const capture = hb ? (JSON.parse(hb.payload) as { capture?: { packets: number; drops: number } }).capture : undefined;
  if (!capture || capture.packets < sent * 0.5) throw new Error(`the daemon reports ${capture?.packets ?? 0} packets captured of ${sent} sent: not a valid measurement`);
  process.stdout.write(`daemon's last heartbeat: ${capture.packets} packets captured, ${capture.drops} dropped by the kernel\n`);
  process.stdout.write(`goipwatch run fed ${Math.round(sent / elapsed)} packets/s for ${elapsed.toFixed(1)} s on loopback (evidence buffer ${evidenceMb} MiB): CPU ${cpuPct.toFixed(1)} % of one core, peak RSS ${peakRss.toFixed(1)} MB (start ${start.rssMb.toFixed(1)} MB)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`run-load-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
