/**
 * Outbox drain after an outage (issue "Probe daemon"): 100,000 findings buffered in the probe's
 * SQLite outbox while no broker was there, then a real mosquitto appears; time until every one is
 * acknowledged (PUBACK) and marked sent, with a separate subscriber counting what arrives.
 *   node dist/bench/drain-bench.js [--messages 100000] [--runs 3]
 * The findings are synthetic (one generated finding per message, distinct ids).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { ProbeStore } from '../src/store/probe-store.js';
import { ReportContract } from '../src/report/contract.js';
import { MqttReporter } from '../src/report/mqtt-reporter.js';
import { score } from '../src/detect/engine.js';
import type { Evidence } from '../src/detect/model.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const evidence: Evidence = {
  signature: 'goip-sms-keepalive', family: 'goip', finding: 'voip-gsm-gateway', category: 'goip-sms-protocol', strength: 'strong', weight: 0.9,
  summary: 'GoIP SMS-server keep-alive (synthetic, benchmark)', source: 'bench', count: 1, firstSeen: 1, lastSeen: 2, refs: [{ file: 0, frames: [1] }],
};

async function once(n: number): Promise<{ seconds: number; received: number }> {
  process.env.GOIPWATCH_LOG_LEVEL = 'warn';
  const dir = mkdtempSync(join(tmpdir(), 'gw-drain-'));
  const store = ProbeStore.open(join(dir, 'probe.db'), { quotaBytes: 1024 * 1024 * 1024 });
  const contract = new ReportContract({ probeId: 'bench' });
  // The outage: findings committed while no broker is reachable.
  for (let i = 0; i < n; i += 5000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      const f = score(`ip:10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, 'voip-gsm-gateway', [evidence])!;
      batch.push(contract.finding(f));
    }
    store.write({ outbox: batch });
  }
  const broker = await startMosquitto({ extraConfig: ['max_inflight_messages 1000', 'max_queued_messages 200000'] });
  let received = 0;
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  sub.on('message', () => received++);
  await sub.subscribeAsync('goipwatch/bench/findings', { qos: 0 });
  const reporter = new MqttReporter({ url: broker.url, contract, outbox: store.outbox, window: 1000 });
  const t0 = performance.now();
  reporter.start();
  while (store.outbox.stats().pending > 0) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t0) / 1000;
  for (let i = 0; i < 100 && received < n; i++) await new Promise((r) => setTimeout(r, 50));
  await reporter.stop();
  await sub.endAsync();
  store.close();
  await broker.dispose();
  return { seconds, received };
}

async function main(): Promise<void> {
  const n = arg('messages', 100_000);
  const runs = arg('runs', 3);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const { seconds, received } = await once(n);
    if (received < n) throw new Error(`only ${received} of ${n} findings reached the subscriber: not a valid measurement`);
    rates.push(n / seconds);
    process.stderr.write(`drain-bench: run ${r + 1}: ${n} findings acknowledged in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} msg/s\n`);
  }
  const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
  process.stdout.write(`outbox drain to mosquitto (QoS 1, window 1000): median ${Math.round(median)} messages/s over ${runs} runs of ${n} (target ≥ 5,000/s: ${median >= 5000 ? 'met' : 'NOT met'})\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`drain-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
