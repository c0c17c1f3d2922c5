/**
 * One interface for every modem dialect. The generic 27.007/27.005 driver does what the
 * standard allows; a vendor driver adds its cell-information command, its ICCID command, its
 * quirks (Wavecom +CPIN? without OK, Huawei ^CURC noise) and its timeouts.
 *
 * Drivers are read-only: they never send a command that writes to the SIM or the module
 * (src/at/policy.ts refuses them anyway).
 */
import type { AtCommandOptions, AtRunner } from '../src/at/types.js';

export type DriverId = 'generic' | 'quectel' | 'simcom' | 'wavecom' | 'huawei';

/** What identifies a module, from AT+CGMI / AT+CGMM / ATI (any may be missing). */
export interface ModuleIdentity {
  manufacturer?: string;
  model?: string;
  revision?: string;
  ati?: string;
}

export type AccessTechnology = 'GSM' | 'GPRS' | 'EDGE' | 'UMTS' | 'HSPA' | 'LTE' | 'NR5G' | 'unknown';

export interface CellInfo {
  /** 'serving' or 'neighbour'. */
  role: 'serving' | 'neighbour';
  act?: AccessTechnology;
  mcc?: string;
  mnc?: string;
  /** Hex strings as reported (LAC for GSM/UMTS, TAC for LTE). */
  lac?: string;
  tac?: string;
  cellId?: string;
  arfcn?: number;
  bsic?: number;
  psc?: number;
  pci?: number;
  /** dBm where the dialect gives a level. */
  rxlevDbm?: number;
  rsrpDbm?: number;
  rsrqDb?: number;
  rscpDbm?: number;
  /** The raw line it came from (evidence). */
  raw: string;
}

export interface ModemDriver {
  readonly id: DriverId;
  readonly name: string;
  /** Does this driver fit the module? (generic fits all and is tried last) */
  matches(identity: ModuleIdentity): boolean;
  /** Baud rate the dialect needs when not autobauding (Wavecom Q24xx: 9600). */
  readonly baudRate?: number;
  /** Read-only setup after open (echo off, verbose errors, URC noise off): nothing saved to the module. */
  init(at: AtRunner): Promise<void>;
  /** ICCID by the dialect's command (+CCID, +ICCID, ^ICCID, +QCCID, +CRSM read of EF_ICCID). */
  readIccid(at: AtRunner): Promise<string | undefined>;
  /** Serving and neighbour cells where the dialect offers them (+QENG, +CENG, +CPSI, +CCED, ^SYSINFO). */
  readCells(at: AtRunner): Promise<CellInfo[]>;
  /**
   * Options the dialect needs for a command anyone sends (the bank included): Wavecom answers
   * `AT+CPIN?` with `+CPIN: READY` and no OK, so it needs a customFinal (at-commands.md §2.3).
   */
  commandOptions?(command: string): AtCommandOptions | undefined;
}
