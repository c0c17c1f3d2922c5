import type { Command } from 'commander';
import { replay, type ReplayReport } from '../replay.js';
import { renderReport } from '../report/table.js';
import { toJsonDocument } from '../report/json.js';
import { storeReplay } from '../store/replay-store.js';
import { componentLogger } from '../log.js';
import { publishReplay } from '../report/publish-replay.js';
import { ExitCodes } from '../errors.js';
import { loadConfig } from '../config/load.js';

export interface ReplayCliOptions {
  json?: boolean;
  db?: string;
  signatures?: string[];
  mqtt?: string;
  probeId?: string;
  /** false with --no-behaviour. */
  behaviour?: boolean;
  behaviourConfig?: string;
}

/** Print a replay's result and return the exit code (3 when any input was partial). */
export function outputReplay(report: ReplayReport, opts: ReplayCliOptions): number {
  const log = componentLogger('replay');
  for (const i of report.inputs) {
    if (i.status !== 'ok') log.warn({ file: i.path, status: i.status }, `${i.path}: ${i.problem ?? i.status}`);
  }
  if (opts.db) {
    const stored = storeReplay(opts.db, report);
    log.info({ db: opts.db, ...stored }, `results stored in ${opts.db} (run ${stored.runId})`);
  }
  process.stdout.write(opts.json ? `${JSON.stringify(toJsonDocument(report), null, 2)}\n` : `${renderReport(report)}\n`);
  return report.partial ? ExitCodes.PartialInput : ExitCodes.Ok;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('read pcap/pcapng captures (files or directories) and report VoIP-GSM gateways, SIMs and SMS with their evidence')
    .argument('<paths...>', 'capture files or directories (directories are searched for .pcap/.pcapng/.cap files)')
    .option('--json', 'print one JSON document instead of the table')
    .option('--db <path>', 'also keep the results in this SQLite file (created if missing; findings are updated, not repeated)')
    .option('--signatures <file>', 'an extra signature table (JSON, same form as src/detect/signatures.json); repeatable',
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--mqtt <url>', 'also publish the findings and SIM inventory to central monitoring (same contract and outbox as a probe)')
    .option('--probe-id <id>', 'the id the replay publishes under (default lab-<host name>)')
    .option('--behaviour-config <file>', 'thresholds and weights of the behaviour features: a YAML/JSON file with a behaviour: section (the probe config file works); default src/behaviour/defaults.ts')
    .option('--no-behaviour', 'skip behaviour analysis (SIP calls, RTP streams, SIM-farm score): signatures only')
    .addHelpText('after', `
Inputs are opened read-only and hashed (SHA-256); every finding points back to file and frame numbers.
Examples:
  goipwatch replay flat-12/*.pcapng
  goipwatch replay --json --db case-2026-117.db seized/`)
    .action(async (paths: string[], opts: ReplayCliOptions) => {
      const behaviour = opts.behaviour === false ? false : opts.behaviourConfig ? (await loadConfig(opts.behaviourConfig)).config.behaviour : undefined;
      const report = await replay(paths, { signatureFiles: opts.signatures, behaviour });
      process.exitCode = outputReplay(report, opts);
      if (opts.mqtt) {
        const { published } = await publishReplay(report, { url: opts.mqtt, probeId: opts.probeId });
        componentLogger('replay').info({ published }, `${published} message(s) acknowledged by ${opts.mqtt}`);
      }
    });
}
