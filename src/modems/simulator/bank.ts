/**
 * SimulatedBank: N simulated modules on N socat PTY pairs, named like the ports of a USB hub in
 * /dev/serial/by-path (at-commands.md §3.7: name identical sticks by path, not by id).
 *
 *   <dir>/by-path/sim-usb-0:1.1:1.0-port0 ─ socat ─ <dir>/.sim/port1.sim ─ SimulatedModem (slot 0)
 *   <dir>/by-path/sim-usb-0:1.2:1.0-port0 ─ socat ─ <dir>/.sim/port2.sim ─ SimulatedModem (slot 1)
 *   …                                                                      one RadioSite for all
 *
 * Deterministic from the seed: same seed, same IMEIs, SIMs, inboxes, cells. `fromDump()` serves
 * recorded transcripts instead (TranscriptModem). stop() kills every socat it started.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModemState } from './factory.js';
import type { FaultInput } from './faults.js';
import { iccidBody, luhnDigit, makeIccidBatch, makeImei, type OperatorKey } from './identity.js';
import { SimulatedModem } from './modem.js';
import { makeRadioSite } from './network.js';
import { getProfile } from './profiles.js';
import { PtyLink, SimulatorError, type ByteDevice } from './pty.js';
import { Rng } from './random.js';
import { loadDumpTranscripts, TranscriptModem, type RecordedPort } from './replay.js';
import { PROFILE_IDS, type ProfileId } from './types.js';

export interface BankStartOptions {
  /** Number of ports (1–64). */
  ports: number;
  /** One profile for every port, or a list cycled over the ports; default: all seven in turn. */
  profiles?: ProfileId | readonly ProfileId[];
  /** Default 1. */
  seed?: number;
  /** Where links go; default a fresh temp dir (removed by stop()). */
  dir?: string;
  /** Faults per slot: an array by slot or a map slot → faults. */
  faults?: readonly (FaultInput | undefined)[] | Readonly<Record<number, FaultInput>>;
  /** ICCIDs of one batch, consecutive across slots, all from one operator (bulk-bought cards). */
  consecutiveIccids?: boolean;
  /** Operator of every SIM; default: drawn per SIM (China Mobile / Unicom, Telecom on LTE modules). */
  operator?: OperatorKey;
  /** Verification-code messages per SIM; default 6. */
  smsPerModem?: number;
  /** Slots with no SIM. */
  emptySlots?: readonly number[];
  /** Slots (or all) whose SIM is remote (SIM bank): +SIMDATA markers. */
  remoteSim?: boolean | readonly number[];
  /** Send each profile's boot URCs when its port comes up; default false. */
  bootUrcs?: boolean;
  /** ms before each answer; default 2. */
  latencyMs?: number;
  /** ms an AT+COPS=? scan takes; default 3000. */
  copsScanMs?: number;
}

export interface ReplayBankOptions {
  dir?: string;
}

/** by-path style name of slot i (0-based): hub port i+1, interface 0. */
export function byPathName(i: number): string {
  return `sim-usb-0:1.${i + 1}:1.0-port0`;
}

export class SimulatedBank {
  private links: PtyLink[] = [];
  private devices: ByteDevice[] = [];
  private ownDir = false;
  private everPids = new Set<number>();
  private dirPath = '';
  /** Recorded ports served by fromDump(), in port order. */
  recorded: RecordedPort[] = [];

  /** Client-side link paths, one per port, in slot order. */
  get paths(): string[] {
    return this.links.map((l) => l.clientPath);
  }

  get dir(): string {
    return this.dirPath;
  }

  /** Build the modems and bring every PTY up; resolves to the client-side paths. */
  async start(opts: BankStartOptions): Promise<string[]> {
    if (this.links.length) throw new SimulatorError('bank already started');
    if (!Number.isInteger(opts.ports) || opts.ports < 1 || opts.ports > 64) throw new SimulatorError('ports must be an integer 1–64', { ports: opts.ports });
    const root = new Rng(opts.seed ?? 1);
    const site = makeRadioSite(root.fork('site'));
    const profiles = typeof opts.profiles === 'string' ? [opts.profiles] : opts.profiles?.length ? opts.profiles : PROFILE_IDS;
    const batch = makeIccidBatch(root.fork('batch'));
    const firstSerial = root.fork('serial').int(0, 900_000);
    const batchOperator = opts.operator ?? 'cmcc';
    const imeis = new Set<string>();
    const modems: SimulatedModem[] = [];
    for (let i = 0; i < opts.ports; i++) {
      const profile = profiles[i % profiles.length] as ProfileId;
      const slotRng = root.fork(`slot-${i}`);
      const remote = opts.remoteSim === true || (Array.isArray(opts.remoteSim) && opts.remoteSim.includes(i));
      const empty = opts.emptySlots?.includes(i) ?? false;
      const iccid = opts.consecutiveIccids ? ((b: string) => b + luhnDigit(b))(iccidBody(batchOperator, batch, firstSerial + i)) : undefined;
      const operator = opts.consecutiveIccids ? batchOperator : opts.operator;
      let state = createModemState({
        profile, seed: slotRng.int(0, 0xffffffff), site, remoteSim: remote,
        sim: empty ? false : { ...(operator ? { operator } : {}), ...(iccid ? { iccid } : {}), ...(opts.smsPerModem !== undefined ? { sms: opts.smsPerModem } : {}) },
      });
      // IMEIs of one pool are distinct (a repeat is a finding of its own, imei-repeated).
      while (imeis.has(state.imei)) state = { ...state, imei: makeImei(slotRng.pick(getProfile(profile).tacs), slotRng) };
      imeis.add(state.imei);
      const faults = Array.isArray(opts.faults) ? (opts.faults as readonly (FaultInput | undefined)[])[i] : (opts.faults as Readonly<Record<number, FaultInput>> | undefined)?.[i];
      modems.push(new SimulatedModem({
        profile, state, seed: slotRng.int(0, 0xffffffff), latencyMs: opts.latencyMs ?? 2,
        ...(opts.copsScanMs !== undefined ? { copsScanMs: opts.copsScanMs } : {}), ...(faults ? { faults } : {}),
      }));
    }
    await this.bringUp(modems, opts.dir, opts.bootUrcs ?? false);
    return this.paths;
  }

  /** Serve a dump's recorded transcripts, one PTY per recorded port (`modems simulate --from-dump`). */
  static async fromDump(dumpDir: string, opts: ReplayBankOptions = {}): Promise<SimulatedBank> {
    let recorded: RecordedPort[];
    try {
      recorded = await loadDumpTranscripts(dumpDir);
    } catch (e) {
      throw new SimulatorError(`cannot read the dump directory ${dumpDir}: ${e instanceof Error ? e.message : String(e)}`, { dumpDir }, { cause: e });
    }
    if (recorded.length === 0) throw new SimulatorError('no AT transcript files found in the dump directory', { dumpDir });
    const bank = new SimulatedBank();
    bank.recorded = recorded;
    await bank.bringUp(recorded.map((r) => new TranscriptModem(r.entries, r.port)), opts.dir, false);
    return bank;
  }

  private async bringUp(devices: ByteDevice[], dir: string | undefined, bootUrcs: boolean): Promise<void> {
    this.ownDir = dir === undefined;
    this.dirPath = dir ?? (await mkdtemp(join(tmpdir(), 'goipwatch-bank-')));
    this.devices = devices;
    this.links = devices.map((device, i) => new PtyLink({
      clientPath: join(this.dirPath, 'by-path', byPathName(i)), devicePath: join(this.dirPath, '.sim', `port${i + 1}.sim`), device, bootUrcs,
    }));
    const results = await Promise.allSettled(this.links.map((l) => l.start()));
    this.notePids();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw new SimulatorError('a PTY of the bank did not come up', {}, { cause: failed.reason });
    }
  }

  private notePids(): void {
    for (const l of this.links) if (l.pid !== undefined) this.everPids.add(l.pid);
  }

  private slot(i: number): PtyLink {
    const l = this.links[i];
    if (!l) throw new SimulatorError(`no port ${i} in this bank`, { ports: this.links.length });
    return l;
  }

  /** The simulated modem of slot i (not for a bank made by fromDump). */
  modem(i: number): SimulatedModem {
    const d = this.devices[i];
    if (!(d instanceof SimulatedModem)) throw new SimulatorError(`port ${i} is not a simulated modem`, { port: i });
    return d;
  }

  /** The replaying device of slot i (bank made by fromDump). */
  transcriptModem(i: number): TranscriptModem {
    const d = this.devices[i];
    if (!(d instanceof TranscriptModem)) throw new SimulatorError(`port ${i} is not a transcript replay`, { port: i });
    return d;
  }

  setFaults(i: number, faults: FaultInput): void {
    this.modem(i).setFaults(faults);
  }

  /** Pull slot i's cable: its link vanishes and a client's open port breaks. */
  async unplug(i: number): Promise<void> {
    await this.slot(i).unplug();
  }

  /** Plug slot i back in under the same name; the module comes up with default settings. */
  async replug(i: number): Promise<void> {
    await this.slot(i).replug();
    this.notePids();
  }

  /** Every socat pid this bank ever started (for leak checks). */
  socatPids(): number[] {
    return [...this.everPids];
  }

  /** Kill every socat, stop every modem timer, remove the temp dir if the bank made it. */
  async stop(): Promise<void> {
    await Promise.all(this.links.map((l) => l.stop()));
    for (const d of this.devices) d.powerOff?.();
    if (this.ownDir && this.dirPath) await rm(this.dirPath, { recursive: true, force: true });
    this.links = [];
    this.devices = [];
  }
}

/** `goipwatch modems simulate --from-dump DIR`: a bank replaying a dump's transcripts. */
export function startReplayBank(dumpDir: string, opts: ReplayBankOptions = {}): Promise<SimulatedBank> {
  return SimulatedBank.fromDump(dumpDir, opts);
}
