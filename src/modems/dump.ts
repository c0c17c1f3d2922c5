/**
 * Dump of a seized pool: everything the survey reads, plus every stored SMS and the phonebook,
 * written with the raw AT transcript of each port and a SHA-256 manifest.
 *
 *   per port: survey ─► AT+CMGF=0 ─► per storage (AT+CPMS?/=?): AT+CPMS="mem" ─► AT+CMGL=4 ─► decodePdu
 *             (text mode AT+CMGF=1, AT+CMGL="ALL" when PDU mode is refused)  ─► reassemble parts
 *             AT+CPBS="SM" ─► AT+CPBR=? ─► AT+CPBR=1,N
 *   out/ inventory.json, transcripts/<port>.txt, manifest.json (sha256 of every file, read-only statement)
 *
 * Read-only: the channel refuses every command of src/at/policy.ts (no AT+CMGD, no writes to the SIM,
 * no IMEI commands, nothing saved with AT&W). One side effect is in the standard itself: 27.005
 * §3.4.2 says listing a "received unread" message marks it "received read"; the status each
 * message had when listed is recorded, and the manifest says so.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AtResponse, AtRunner, TranscriptEntry } from '../at/types.js';
import { decodePdu, reassemble, type SmsDeliverPdu, type SmsSubmitPdu } from '../at/pdu.js';
import { isParseError, parseCmgl, parseCpmsRead, parseCpmsSupported, type SmsListing } from '../at/parsers.js';
import { serialiseTranscript } from '../at/transcript.js';
import { describeError } from '../errors.js';
import { toolVersion } from '../version.js';
import { onEveryPort, type PortOutcome } from './bank.js';
import { modemFindings } from './findings.js';
import { surveyModule } from './survey.js';
import type { DumpedSms, ModemFinding, PhonebookEntry, PortSurvey } from './types.js';
import type { DriverId } from '../../drivers/types.js';

export interface PortDump {
  survey: PortSurvey;
  sms: DumpedSms[];
  phonebook: PhonebookEntry[];
  /** True when the standard listing had to be used, which marks unread messages read (27.005 §3.4.2). */
  statusMayHaveChanged: boolean;
  /** Messages the module listed but that could not be decoded (kept raw). */
  undecoded: Array<{ port: string; line: number; reason: string; raw: string }>;
}

async function tryRead(at: AtRunner, dump: PortDump, command: string, timeoutMs?: number): Promise<AtResponse | undefined> {
  try {
    const r = await at.send(command, timeoutMs ? { timeoutMs } : {});
    if (r.final === 'OK') return r;
    dump.survey.errors.push({ command, error: r.finalLine || r.final });
  } catch (e) {
    dump.survey.errors.push({ command, error: describeError(e) });
  }
  return undefined;
}

/** `+CPBR: 1,"13800138000",129,"张三"` (27.007 §8.12). Names may be UCS2 hex when CSCS is UCS2; kept as sent. */
export function parseCpbrLine(line: string): { index: number; number: string; name: string } | undefined {
  const m = /^\+CPBR:\s*(\d+),"([^"]*)",(\d+),"([^"]*)"/.exec(line);
  return m ? { index: Number(m[1]), number: m[2]!, name: m[4]! } : undefined;
}

async function readMessages(at: AtRunner, dump: PortDump): Promise<void> {
  const port = at.port;
  const pduMode = (await tryRead(at, dump, 'AT+CMGF=0')) !== undefined;
  const supported = await tryRead(at, dump, 'AT+CPMS=?');
  const current = await tryRead(at, dump, 'AT+CPMS?');
  const memories = new Set<string>();
  if (supported) {
    const s = parseCpmsSupported(supported.lines);
    if (!isParseError(s)) for (const m of s.read) memories.add(m);
  }
  if (current) {
    const c = parseCpmsRead(current.lines);
    if (!isParseError(c) && c.read) memories.add(c.read.memory);
  }
  if (memories.size === 0) memories.add('SM');
  const parts: Array<{ pdu: SmsDeliverPdu | SmsSubmitPdu; listing: SmsListing; line: number }> = [];
  for (const mem of [...memories].filter((m) => m === 'SM' || m === 'ME' || m === 'MT')) {
    if (memories.size > 1 && !(await tryRead(at, dump, `AT+CPMS="${mem}"`))) continue;
    // SIMCom and Quectel 2G modules take a second <mode> 1 = "do not change the status" (at-commands.md
    // §1.8 samples; simulator profiles): try that first, fall back to the standard listing and say so.
    const all = pduMode ? '4' : '"ALL"';
    let list = await tryRead(at, dump, `AT+CMGL=${all},1`, 120_000);
    if (!list) {
      list = await tryRead(at, dump, `AT+CMGL=${all}`, 120_000);
      if (list) dump.statusMayHaveChanged = true;
    }
    if (!list) continue;
    const parsed = parseCmgl(list.lines);
    const line = list.transcriptLines[0];
    for (const bad of parsed.malformed) dump.undecoded.push({ port, line, reason: bad.reason, raw: bad.line });
    for (const listing of parsed.messages) {
      if (listing.mode === 'text') {
        dump.sms.push({ port, index: listing.index ?? -1, status: listing.status, sender: listing.address, text: listing.text, timestamp: listing.timestamp, ref: { port, line } });
        continue;
      }
      const pdu = decodePdu(listing.pdu, { tpduLength: listing.length });
      if (isParseError(pdu)) {
        dump.undecoded.push({ port, line, reason: pdu.error, raw: listing.pdu });
      } else if (pdu.type === 'deliver' || pdu.type === 'submit') {
        parts.push({ pdu, listing, line });
      }
    }
  }
  for (const msg of reassemble(parts.map((p) => p.pdu))) {
    const members = msg.members.map((i) => parts[i]!);
    const first = members[0]!;
    dump.sms.push({
      port,
      index: first.listing.index ?? -1,
      status: first.listing.mode === 'pdu' ? (first.listing.status ?? String(first.listing.stat)) : first.listing.status,
      sender: msg.peer,
      text: msg.text,
      timestamp: msg.timestamp?.iso,
      parts: msg.concat ? { reference: msg.concat.ref, total: msg.concat.total, indexes: members.map((m) => m.listing.index ?? -1), missing: msg.missing } : undefined,
      pdu: members.map((m) => (m.listing.mode === 'pdu' ? m.listing.pdu : '')).join(' '),
      ref: { port, line: first.line },
    });
  }
}

async function readPhonebook(at: AtRunner, dump: PortDump): Promise<void> {
  if (!(await tryRead(at, dump, 'AT+CPBS="SM"'))) return;
  const range = await tryRead(at, dump, 'AT+CPBR=?');
  const m = range ? /\+CPBR:\s*\((\d+)-(\d+)\)/.exec(range.lines.join('\n')) : null;
  if (!m) return;
  const last = Math.min(Number(m[2]), 1000);
  const r = await tryRead(at, dump, `AT+CPBR=${m[1]},${last}`, 30_000);
  if (!r) return;
  for (const line of r.lines) {
    const e = parseCpbrLine(line);
    if (e) dump.phonebook.push({ port: at.port, storage: 'SM', ...e, ref: { port: at.port, line: r.transcriptLines[0] } });
  }
}

export async function dumpModule(at: AtRunner, driver?: DriverId): Promise<PortDump> {
  const { survey } = await surveyModule(at, { driver });
  const dump: PortDump = { survey, sms: [], phonebook: [], undecoded: [], statusMayHaveChanged: false };
  if (!survey.answered || (survey.simState !== undefined && survey.simState !== 'READY')) return dump;
  await readMessages(at, dump);
  await readPhonebook(at, dump);
  return dump;
}

export interface DumpResult {
  outDir: string;
  ports: Array<PortOutcome<PortDump>>;
  findings: ModemFinding[];
  manifest: DumpManifest;
}

export interface DumpManifest {
  format: 'goipwatch.modem-dump/1';
  tool: { name: 'goipwatch'; version: string };
  startedAt: string;
  finishedAt: string;
  readOnly: { statement: string; refusedByPolicy: string[]; sideEffects: string[] };
  files: Array<{ path: string; sha256: string; bytes: number }>;
}

const READ_ONLY_STATEMENT =
  'goipwatch sent only read commands and volatile settings (echo, error format, SMS/PDU mode, storage selection, ' +
  'registration report mode); every command that deletes a message, writes to the SIM or the module, changes the IMEI ' +
  'or saves settings was refused by the channel policy (src/at/policy.ts). The transcripts hold every byte sent.';

/** A port name usable as a file name (by-path names carry ':' and '/'). */
export function portFileName(port: string): string {
  return basename(port).replace(/[^A-Za-z0-9._-]/g, '_');
}

export async function dumpBank(ports: string[], outDir: string, opts: { driver?: DriverId } = {}): Promise<DumpResult> {
  const startedAt = new Date().toISOString();
  await mkdir(join(outDir, 'transcripts'), { recursive: true });
  const results = await onEveryPort(ports, (at) => dumpModule(at, opts.driver));
  const files: string[] = [];
  const used = new Set<string>();
  for (const r of results) {
    let name = portFileName(r.port);
    while (used.has(name)) name = `${name}_`;
    used.add(name);
    const file = join('transcripts', `${name}.txt`);
    await writeFile(join(outDir, file), transcriptFile(r.port, r.transcript));
    files.push(file);
  }
  const dumps = results.map((r) => r.result).filter((d): d is PortDump => d !== undefined);
  const findings = modemFindings(dumps.map((d) => d.survey), dumps.flatMap((d) => d.sms));
  const inventory = {
    format: 'goipwatch.modem-inventory/1',
    ports: results.map((r) => ({ port: r.port, error: r.error, ...(r.result ?? {}) })),
    findings,
  };
  await writeFile(join(outDir, 'inventory.json'), `${JSON.stringify(inventory, null, 2)}\n`);
  files.push('inventory.json');
  const manifest: DumpManifest = {
    format: 'goipwatch.modem-dump/1',
    tool: { name: 'goipwatch', version: toolVersion() },
    startedAt,
    finishedAt: new Date().toISOString(),
    readOnly: {
      statement: READ_ONLY_STATEMENT,
      refusedByPolicy: ['AT+CMGD', 'AT+CMGW', 'AT+CMSS', 'AT+CMGS', 'AT+CPBW', 'AT+CRSM/AT+CSIM updates', 'AT&W', 'AT+EGMR', 'AT+SIMEI', 'ATD'],
      sideEffects: results.filter((r) => r.result?.statusMayHaveChanged).map((r) =>
        `${r.port}: the module refused AT+CMGL=<stat>,1 (list without status change), so the standard AT+CMGL was used, which marks "REC UNREAD" messages "REC READ" (27.005 §3.4.2); each message's status as listed is in inventory.json`),
    },
    files: [],
  };
  for (const f of files) {
    const buf = await readFile(join(outDir, f));
    manifest.files.push({ path: f, sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.length });
  }
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { outDir, ports: results, findings, manifest };
}

function transcriptFile(port: string, entries: TranscriptEntry[]): string {
  // The one header comment names the port: `modems simulate --from-dump` serves it under that name.
  return serialiseTranscript(entries, port);
}

/** Check a dump's manifest: every listed file present with its hash. Returns the problems (empty when it verifies). */
export async function verifyDump(outDir: string): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as DumpManifest;
  const problems: string[] = [];
  for (const f of manifest.files) {
    try {
      const sha = createHash('sha256').update(await readFile(join(outDir, f.path))).digest('hex');
      if (sha !== f.sha256) problems.push(`${f.path}: SHA-256 differs from the manifest`);
    } catch (e) {
      problems.push(`${f.path}: ${describeError(e)}`);
    }
  }
  return problems;
}
