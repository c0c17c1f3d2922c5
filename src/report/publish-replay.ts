/**
 * `replay --mqtt URL`: a lab replay's findings and SIM inventory go to central monitoring through
 * the same outbox and reporter as a probe's (committed to SQLite first, sent only on PUBACK).
 */
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReplayReport } from '../replay.js';
import { ProbeStore } from '../store/probe-store.js';
import { ReportContract } from './contract.js';
import { MqttReporter } from './mqtt-reporter.js';
import { defaultProbeId } from '../config/load.js';
import { ErrorCodes, GoipwatchError } from '../errors.js';
import { toolVersion } from '../version.js';

export interface PublishOptions {
  url: string;
  probeId?: string;
  baseTopic?: string;
  /** SQLite file holding the outbox (default: a fresh temp file). */
  db?: string;
  timeoutMs?: number;
}

export async function publishReplay(report: ReplayReport, opts: PublishOptions): Promise<{ published: number }> {
  const contract = new ReportContract({ probeId: opts.probeId ?? `lab-${defaultProbeId(hostname())}`, baseTopic: opts.baseTopic, version: toolVersion() });
  const store = ProbeStore.open(opts.db ?? join(mkdtempSync(join(tmpdir(), 'goipwatch-outbox-')), 'outbox.db'));
  const reporter = new MqttReporter({ url: opts.url, contract, outbox: store.outbox });
  try {
    store.write({
      findings: report.findings,
      outbox: [...report.findings.map((f) => contract.finding(f)), ...report.sims.map((s) => contract.sim(s))],
    });
    reporter.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    while (store.outbox.stats().pending > 0) {
      if (Date.now() > deadline) {
        throw new GoipwatchError(ErrorCodes.Report, `the broker at ${opts.url} did not acknowledge the replay's messages in time; they stay in the outbox${opts.db ? ` (${opts.db})` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { published: reporter.stats().published };
  } finally {
    await reporter.stop();
    store.close();
  }
}
