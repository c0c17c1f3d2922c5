/**
 * Survey time of a simulated modem bank of 8, 32 and 64 ports (issue "Modem bank": it must grow
 * far less than linearly with the port count, since ports run in parallel).
 *
 * Each run starts a fresh SimulatedBank (socat PTYs, simulator answers after --latency ms, as a
 * real module takes a few ms to tens of ms per command) and times `surveyBank` over all its ports
 * in this process. Prints medians and the ratio to the 8-port time next to the linear ratio.
 *   node dist/bench/survey-bench.js [--runs 3] [--latency 20] [--json]
 */
import { cpus } from 'node:os';
import { SimulatedBank } from '../src/modems/simulator/index.js';
import { surveyBank } from '../src/modems/bank.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function once(ports: number, latencyMs: number, seed: number): Promise<{ ms: number; answered: number }> {
  const bank = new SimulatedBank();
  try {
    const paths = await bank.start({ ports, seed, latencyMs });
    const t0 = performance.now();
    const results = await surveyBank(paths);
    const ms = performance.now() - t0;
    return { ms, answered: results.filter((r) => r.result?.answered && r.result.imei).length };
  } finally {
    await bank.stop();
  }
}

async function main(): Promise<void> {
  process.env.GOIPWATCH_LOG_LEVEL ??= 'warn';
  const runs = arg('runs', 3);
  const latency = arg('latency', 20);
  const sizes = [8, 32, 64];
  const rows: Array<{ ports: number; medianMs: number; runsMs: number[]; answered: number }> = [];
  for (const n of sizes) {
    const times: number[] = [];
    let answered = 0;
    for (let r = 0; r < runs; r++) {
      const { ms, answered: a } = await once(n, latency, 100 + r);
      if (a !== n) throw new Error(`survey of ${n} ports answered on ${a} only: not a valid measurement`);
      times.push(ms);
      answered = a;
      process.stderr.write(`survey-bench: ${n} ports run ${r + 1}: ${(ms / 1000).toFixed(2)} s\n`);
    }
    rows.push({ ports: n, medianMs: median(times), runsMs: times, answered });
  }
  const base = rows[0]!.medianMs;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ latencyMs: latency, runs, cpu: cpus()[0]?.model, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`modem-bank survey benchmark (simulated modules on socat PTYs, ${latency} ms per answer, ${runs} runs each, medians)\n`);
  process.stdout.write(`machine   ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, node ${process.version}\n\n`);
  process.stdout.write('ports   survey s   vs 8 ports   linear would be\n');
  for (const r of rows) {
    process.stdout.write(`${String(r.ports).padStart(5)}   ${(r.medianMs / 1000).toFixed(2).padStart(8)}   ${(r.medianMs / base).toFixed(2).padStart(9)}×   ${(r.ports / 8).toFixed(0).padStart(14)}×\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`survey-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
