#!/usr/bin/env node
/**
 * goipwatch command line. Each command lives in its own file and only wires options to the
 * library and prints; exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 partial input.
 */
import { Command, CommanderError, Option } from 'commander';
import { createLogger } from '../log.js';
import { ErrorCodes, ExitCodes, GoipwatchError, describeError } from '../errors.js';
import { toolVersion } from '../version.js';
import { registerReplay } from './replay.js';
import { registerDemo } from './demo.js';
import { registerModems } from './modems.js';
import { registerRun } from './run.js';
import { registerMonitor } from './monitor.js';
import { registerDoctor } from './doctor.js';

const exitCodesHelp = `
Exit codes:
  0  done, every input read completely
  1  an internal failure (please report it with the log)
  2  usage or configuration error (bad option, missing file argument, bad signature table)
  3  partial input: some input was unreadable or read only in part (results of the readable part are still given)`;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('goipwatch')
    .description('Find GoIP / VoIP-GSM gateways, modem pools and SIM farms in network captures and keep the evidence.')
    .version(toolVersion(), '-V, --version')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .showHelpAfterError('(run with --help for usage)')
    // Throw instead of exiting so usage mistakes map to exit code 2; inherited by subcommands added below.
    .exitOverride()
    .addHelpText('after', exitCodesHelp)
    .hook('preAction', (cmd) => {
      createLogger(String(cmd.opts().logLevel ?? 'info'));
    });
  registerReplay(program);
  registerDemo(program);
  registerModems(program);
  registerRun(program);
  registerMonitor(program);
  registerDoctor(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCodes.Ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage mistakes were already printed by commander.
      return e.exitCode === 0 ? ExitCodes.Ok : ExitCodes.Usage;
    }
    if (e instanceof GoipwatchError) {
      process.stderr.write(`goipwatch: ${e.message}\n`);
      const usage: string[] = [ErrorCodes.Usage, ErrorCodes.Config, ErrorCodes.Signatures, ErrorCodes.Simulator];
      return usage.includes(e.code) ? ExitCodes.Usage : ExitCodes.Failure;
    }
    process.stderr.write(`goipwatch: internal error: ${describeError(e)}\n${e instanceof Error && e.stack ? e.stack : ''}\n`);
    return ExitCodes.Failure;
  }
}

// `goipwatch … | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
