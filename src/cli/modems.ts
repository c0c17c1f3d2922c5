import { Command, Option } from 'commander';
import { listSerialPorts, probePort } from '../at/discovery.js';
import { NodeSerialBinding } from '../at/serial-binding.js';
import { classifyCommand } from '../at/policy.js';
import { openPort, surveyBank, onEveryPort } from '../modems/bank.js';
import { dumpBank, verifyDump } from '../modems/dump.js';
import { modemFindings } from '../modems/findings.js';
import { SimulatedBank } from '../modems/simulator/index.js';
import { PROFILE_IDS, type ProfileId } from '../modems/simulator/types.js';
import { listenBank } from '../modems/listen.js';
import { DRIVER_IDS } from '../../drivers/index.js';
import type { DriverId } from '../../drivers/types.js';
import type { PortSurvey } from '../modems/types.js';
import { table } from '../report/table.js';
import { storeModemRun } from '../store/modem-store.js';
import { ErrorCodes, ExitCodes, GoipwatchError } from '../errors.js';
import { componentLogger } from '../log.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function portsOrDiscover(ports: string[] | undefined): Promise<string[]> {
  if (ports && ports.length) return ports;
  const found = await listSerialPorts();
  if (found.length === 0) {
    throw new GoipwatchError(ErrorCodes.Usage, 'no serial ports found under /dev/serial/by-path, /dev/serial/by-id, /dev/ttyUSB* or /dev/ttyACM*; name them with --port');
  }
  return found.map((p) => p.path);
}

function surveyTable(surveys: Array<{ port: string; result?: PortSurvey; error?: string }>): string {
  return table(surveys.map((s) => {
    const r = s.result;
    if (!r) return [s.port, '', '', '', '', '', '', '', `error: ${s.error ?? ''}`];
    return [
      s.port, `${r.manufacturer ?? ''} ${r.model ?? ''}`.trim(), r.imei ?? '', r.simState ?? '', r.imsi ?? '', r.iccid ?? '',
      r.operator?.name ?? r.operator?.numeric ?? '',
      r.registration ? `${r.registration.state}${r.registration.lac ? ` ${r.registration.lac}/${r.registration.cellId ?? '?'}` : ''}` : '',
      r.signal?.rssiDbm !== undefined ? `${r.signal.rssiDbm} dBm` : r.answered ? '' : 'no answer',
    ];
  }), ['port', 'module', 'IMEI', 'SIM', 'IMSI', 'ICCID', 'operator', 'registration', 'signal']);
}

export function registerModems(program: Command): void {
  const modems = program.command('modems').description('drive GSM modem pools over AT: list, survey, dump (read-only), listen, simulate');
  const driverOption = () => new Option('--driver <id>', 'force a modem dialect instead of detecting it').choices([...DRIVER_IDS]);

  modems.command('list').description('the serial ports found, which answer AT, and their vendor and model')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const found = await listSerialPorts();
      const rows = await Promise.all(found.map(async (p) => {
        const binding = new NodeSerialBinding({ path: p.path });
        const probe = await probePort(binding, { tries: 2, timeoutMs: 2000 });
        return { ...p, speaksAt: probe.speaksAt, error: probe.error };
      }));
      const answering = rows.filter((r) => r.speaksAt).map((r) => r.path);
      const ident = await onEveryPort(answering, async (at) => {
        const one = async (c: string) => (await at.send(c).catch(() => undefined))?.lines[0] ?? '';
        return { manufacturer: await one('AT+CGMI'), model: await one('AT+CGMM') };
      });
      const out = rows.map((r) => ({ ...r, ...(ident.find((i) => i.port === r.path)?.result ?? {}) }));
      if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else process.stdout.write(`${table(out.map((r) => [r.path, r.tty, r.speaksAt ? 'yes' : 'no', 'manufacturer' in r ? String(r.manufacturer) : '', 'model' in r ? String(r.model) : '']), ['port', 'tty', 'AT', 'manufacturer', 'model'])}\n`);
    });

  modems.command('survey').description('per port: module, IMEI, SIM, IMSI, ICCID, MSISDN, operator, registration, signal, cells')
    .option('--port <path>', 'a port (by-path or by-id link preferred); repeatable; default: all found', collect)
    .option('--json', 'print JSON')
    .option('--db <path>', 'also keep the survey in this SQLite file')
    .addOption(driverOption())
    .action(async (opts: { port?: string[]; json?: boolean; driver?: DriverId; db?: string }) => {
      const startedAt = new Date().toISOString();
      const results = await surveyBank(await portsOrDiscover(opts.port), { driver: opts.driver });
      const surveys = results.map((r) => r.result).filter((s): s is PortSurvey => s !== undefined);
      const findings = modemFindings(surveys);
      if (opts.db) storeModemRun(opts.db, 'modem-survey', startedAt, surveys, [], findings);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ports: results.map(({ transcript: _t, ...r }) => r), findings }, null, 2)}\n`);
      else {
        process.stdout.write(`${surveyTable(results)}\n`);
        for (const f of findings) process.stdout.write(`* ${f.summary}\n`);
      }
      if (results.some((r) => r.error || !r.result?.answered)) process.exitCode = ExitCodes.PartialInput;
    });

  modems.command('dump').description('read-only dump of a seized pool: survey, every SMS, phonebook, raw transcripts, SHA-256 manifest')
    .requiredOption('--out <dir>', 'output directory (created)')
    .option('--port <path>', 'a port; repeatable; default: all found', collect)
    .option('--db <path>', 'also keep the surveys, SMS and findings in this SQLite file')
    .addOption(driverOption())
    .action(async (opts: { out: string; port?: string[]; driver?: DriverId; db?: string }) => {
      const result = await dumpBank(await portsOrDiscover(opts.port), opts.out, { driver: opts.driver });
      if (opts.db) {
        const dumps = result.ports.flatMap((p) => (p.result ? [p.result] : []));
        storeModemRun(opts.db, 'modem-dump', result.manifest.startedAt, dumps.map((d) => d.survey), dumps.flatMap((d) => d.sms), result.findings);
      }
      const problems = await verifyDump(opts.out);
      const sms = result.ports.reduce((n, p) => n + (p.result?.sms.length ?? 0), 0);
      process.stdout.write(`${surveyTable(result.ports.map((p) => ({ port: p.port, result: p.result?.survey, error: p.error })))}\n`);
      process.stdout.write(`${sms} SMS; ${result.manifest.files.length} files in ${opts.out}; manifest ${problems.length ? `does NOT verify: ${problems.join('; ')}` : 'verifies'}\n`);
      for (const f of result.findings) process.stdout.write(`* ${f.summary}\n`);
      if (result.ports.some((p) => p.error) || problems.length) process.exitCode = ExitCodes.PartialInput;
    });

  modems.command('listen').description('print incoming calls (RING/+CLIP) and new SMS (+CMTI/+CMT) as JSON lines')
    .option('--port <path>', 'a port; repeatable; default: all found', collect)
    .option('--seconds <n>', 'stop after n seconds (default: until Ctrl-C)', (v) => Number(v))
    .action(async (opts: { port?: string[]; seconds?: number }) => {
      const ports = await portsOrDiscover(opts.port);
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => { stop = resolve; });
      process.once('SIGINT', () => stop());
      if (opts.seconds && opts.seconds > 0) setTimeout(() => stop(), opts.seconds * 1000).unref();
      const outcomes = await listenBank(ports, (e) => process.stdout.write(`${JSON.stringify(e)}\n`), stopped);
      if (outcomes.some((o) => o.error)) process.exitCode = ExitCodes.PartialInput;
    });

  modems.command('at').description('expert console: send one AT command to one port and print the raw answer')
    .argument('<port>', 'the port').argument('<command>', 'e.g. "AT+CSQ"')
    .option('--force', 'allow commands the read-only policy refuses (deleting SMS, writing the SIM or IMEI)')
    .action(async (port: string, command: string, opts: { force?: boolean }) => {
      const verdict = classifyCommand(command);
      if (!verdict.allowed && !opts.force) {
        throw new GoipwatchError(ErrorCodes.Usage, `refused: ${command} ${verdict.reason ?? ''}; goipwatch is read-only (use --force only on equipment that is not evidence)`);
      }
      const session = await openPort(port, { force: opts.force });
      try {
        const r = await session.channel.send(command);
        process.stdout.write(`${[...r.lines, r.finalLine || r.final].join('\n')}\n`);
        if (r.final !== 'OK') process.exitCode = ExitCodes.Failure;
      } finally {
        await session.close();
      }
    });

  modems.command('simulate').description('start a simulated modem bank on pseudo-terminals (no hardware), or serve a dump\'s transcripts again')
    .option('--ports <n>', 'number of simulated modules (1-64)', (v) => Number(v), 8)
    .addOption(new Option('--profile <id>', 'one vendor profile for every port (default: all in turn)').choices([...PROFILE_IDS]))
    .option('--from-dump <dir>', 'answer from the AT transcripts of a `modems dump` instead')
    .option('--dir <dir>', 'where the port links are created (default: a temp dir)')
    .option('--seed <n>', 'seed of the simulated bank (same seed, same IMEIs, SIMs and SMS)', (v) => Number(v), 1)
    .option('--seconds <n>', 'stop after n seconds (default: until Ctrl-C)', (v) => Number(v))
    .action(async (opts: { ports: number; profile?: ProfileId; fromDump?: string; dir?: string; seconds?: number; seed: number }) => {
      if (!Number.isInteger(opts.ports) || opts.ports < 1 || opts.ports > 64) throw new GoipwatchError(ErrorCodes.Usage, '--ports must be a whole number from 1 to 64');
      const bank = opts.fromDump ? await SimulatedBank.fromDump(opts.fromDump, { dir: opts.dir }) : new SimulatedBank();
      const paths = opts.fromDump ? bank.paths : await bank.start({ ports: opts.ports, profiles: opts.profile, dir: opts.dir, seed: opts.seed });
      componentLogger('simulate').info({ ports: paths.length }, `simulated bank up on ${paths.length} port(s)`);
      process.stdout.write(`${paths.join('\n')}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        if (opts.seconds && opts.seconds > 0) setTimeout(resolve, opts.seconds * 1000).unref();
      });
      await bank.stop();
    });
}
