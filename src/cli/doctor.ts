import type { Command } from 'commander';
import { resolveConfigPath } from '../config/load.js';
import { runDoctor, type DoctorCheck, type DoctorReport } from '../doctor.js';
import { ErrorCodes, ExitCodes, GoipwatchError } from '../errors.js';

export interface DoctorCliOptions {
  config?: string;
  json?: boolean;
  timeout?: number;
}

/** One line per check, and the fix under each failed one. */
export function renderDoctor(report: DoctorReport): string {
  const mark = (c: DoctorCheck): string => (c.skipped ? 'skip' : c.ok ? 'ok' : 'FAIL');
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.flatMap((c) => {
    const row = `${mark(c).padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail.replace(/\s*\n\s*/g, ' | ')}`;
    return c.ok || !c.fix ? [row] : [row, `${''.padEnd(6 + width)}  fix: ${c.fix}`];
  });
  const failed = report.checks.filter((c) => !c.ok).length;
  lines.push('', failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`);
  return lines.join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check what the probe needs: config, capture rights, libpcap, serial ports, ModemManager, broker, TLS, clock, disk')
    .option('--config <file>', 'config file (default: $GOIPWATCH_CONFIG or /etc/goipwatch/config.yaml)')
    .option('--json', 'print one JSON document instead of the table')
    .option('--timeout <ms>', 'broker connect and TLS handshake timeout in ms', (v: string) => Number(v), 3000)
    .addHelpText('after', `
Exit code 0 when every check passes, 1 otherwise. Run it as the service user to see what the
service sees:  sudo -u goipwatch goipwatch doctor   (capture rights come from the unit, see systemd/).
Examples:
  goipwatch doctor
  goipwatch doctor --config ./probe.yaml --json`)
    .action(async (opts: DoctorCliOptions) => {
      if (opts.timeout === undefined || !Number.isInteger(opts.timeout) || opts.timeout < 100 || opts.timeout > 60_000) {
        throw new GoipwatchError(ErrorCodes.Usage, '--timeout must be a whole number of ms from 100 to 60000');
      }
      const report = await runDoctor({ configPath: resolveConfigPath(opts.config), timeoutMs: opts.timeout });
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDoctor(report)}\n`);
      process.exitCode = report.ok ? ExitCodes.Ok : ExitCodes.Failure;
    });
}
