/**
 * Vendor profiles: what each simulated module says about itself and which dialect it speaks.
 *
 *   profile ──► identity strings (+CGMI/+CGMM/+CGMR/ATI)    at-commands.md §5 table, §1.11, §2.2
 *           ├─► line endings (SIMCom URCs end \r\r\n)      §1.10
 *           ├─► ICCID command (+QCCID/+CCID/+CICCID/^ICCID) §1.7
 *           ├─► cell command (+QENG/+CENG/+CPSI/+CCED/^SYSINFO) §2.1–2.4
 *           └─► quirks (Wavecom +CPIN? without OK §2.3, Huawei ^RSSI noise §2.4, SMS index 0 §3.5)
 *
 * Strings marked "ref" are verbatim from at-commands.md; "inference" marks a form commonly seen on
 * such modules but not in the reference (verify on hardware, §8). TACs marked SYNTHETIC are made
 * up in the module's plausible range: no public TAC list exists (§5).
 */
import type { DriverId } from '../../../drivers/types.js';
import type { ModemSettings, ProfileId, Rat } from './types.js';

export type CellDialect = 'none' | 'quectel-qeng' | 'quectel-qeng-2g' | 'simcom-ceng' | 'simcom-cpsi' | 'wavecom-cced' | 'huawei';

export interface VendorProfile {
  id: ProfileId;
  driver: DriverId;
  /** +CGMI / +GMI answer line. */
  manufacturer: string;
  /** +CGMM / +GMM answer line. */
  model: string;
  /** +CGMR / +GMR answer line, prefix included where the module prints one. */
  revision: string;
  /** ATI answer lines; `{imei}` is replaced. */
  ati: readonly string[];
  gcap: string;
  /** TACs to draw IMEIs from (8 digits). */
  tacs: readonly string[];
  rats: readonly Rat[];
  /** Line ending of solicited answers. */
  eol: string;
  /** Line ending around URCs (SIMCom SIM7xxx: \r\r\n, §1.10). */
  urcEol: string;
  /** The dialect's ICCID command (normalised name: '+QCCID', '+CCID', '+CICCID', '^ICCID'); undefined: +CRSM only. */
  iccidCommand?: '+QCCID' | '+CCID' | '+CICCID' | '^ICCID';
  cellDialect: CellDialect;
  /** Wavecom: `AT+CPIN?` answers `+CPIN: READY` and never OK (§2.3, §3.4). */
  cpinNoOk: boolean;
  /** Huawei: ^RSSI/^MODE URCs until AT^CURC=0 (§2.4). */
  huaweiNoise: boolean;
  /** First SMS storage index: Huawei sticks start at 0 (Gammu F_SMS_LOCATION_0, §2.4/§3.5). */
  smsIndexBase: 0 | 1;
  smsCapacity: number;
  /** `AT+CMGL=<stat>,1` / `AT+CMGR=<i>,1` read without marking REC READ (SIM800/M35 manuals; inference). */
  readModeParam: boolean;
  /** +CREG lac/ci quoted ("1234") or bare (Huawei E160G form 8BE3,2BAF, §1.3). */
  cregQuoted: boolean;
  /** Append <AcT> to +CREG/+CGREG in n=2 (3G/4G modules, §1.3). */
  cregAct: boolean;
  /** Append <AcT> to +COPS? (MM's simulator: `+COPS: 0,2,"21401",2`, §1.11; 2G modules do not). */
  copsAct: boolean;
  /** Answers AT+CESQ (§1.5). */
  cesq: boolean;
  /** MediaTek-based: knows AT+EGMR (IMEI NV read/write, §5). */
  egmr: boolean;
  cscsDefault: string;
  /** Power-up URCs (§3.3), +CPIN line replaced when there is no SIM. */
  bootUrcs: readonly string[];
  /** URCs this module is known to send, for the 'urc-storm' fault. */
  stormUrcs: readonly string[];
}

const base = {
  eol: '\r\n', urcEol: '\r\n', cpinNoOk: false, huaweiNoise: false, smsIndexBase: 1, smsCapacity: 50,
  readModeParam: false, cregQuoted: true, cregAct: false, copsAct: false, cesq: false, egmr: false, cscsDefault: 'IRA',
} as const;

export const PROFILES: Record<ProfileId, VendorProfile> = {
  // MM's own simulator dictionary, gsm-port.conf (ref §1.11).
  generic: {
    ...base, id: 'generic', driver: 'generic',
    manufacturer: 'Some vendor', model: 'Some model', revision: 'Some revision',
    ati: ['Manufacturer: Some vendor', 'Model: Some model', 'Revision: Some revision', 'IMEI: {imei}', '+GCAP: +CGSM,+DS,+ES'],
    gcap: '+GCAP: +CGSM +DS +ES', tacs: ['35209900', '35332511'] /* SYNTHETIC */, rats: ['GSM', 'WCDMA', 'LTE'],
    cellDialect: 'none', copsAct: true, cesq: true, bootUrcs: [], stormUrcs: ['RING', '+CREG: 1', '+CIEV: 7,1'],
  },
  'quectel-ec25': {
    ...base, id: 'quectel-ec25', driver: 'quectel',
    // inference: EC2x ATI prints vendor, model, "Revision: …" on three lines.
    manufacturer: 'Quectel', model: 'EC25', revision: 'Revision: EC25EFAR06A03M4G',
    ati: ['Quectel', 'EC25', 'Revision: EC25EFAR06A03M4G'],
    gcap: '+GCAP: +CGSM', tacs: ['86169704', '86257304'] /* SYNTHETIC */, rats: ['LTE', 'WCDMA', 'GSM'],
    iccidCommand: '+QCCID', cellDialect: 'quectel-qeng', cregAct: true, copsAct: true, cesq: true, cscsDefault: 'GSM',
    // Quectel MM plugin: RDY, +QUSIM: 1 (ref §3.3).
    bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', '+QUSIM: 1', '+QIND: SMS DONE'],
    stormUrcs: ['RING', '+CREG: 1', '+QIND: "csq",17,99'],
  },
  'quectel-m35': {
    ...base, id: 'quectel-m35', driver: 'quectel',
    // Gammu model table "Quectel_M35" (ref §5); manufacturer and revision lines are inference.
    manufacturer: 'Quectel_Ltd', model: 'Quectel_M35', revision: 'Revision: M35AR01A12',
    ati: ['Quectel_Ltd', 'Quectel_M35', 'Revision: M35AR01A12'],
    gcap: '+GCAP: +CGSM,+FCLASS,+DS', tacs: ['86283402', '86441802'] /* SYNTHETIC */, rats: ['GSM'],
    iccidCommand: '+QCCID', cellDialect: 'quectel-qeng-2g', readModeParam: true, cscsDefault: 'GSM',
    bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', 'Call Ready', 'SMS Ready'],
    stormUrcs: ['RING', '+CREG: 1'],
  },
  'simcom-sim800': {
    ...base, id: 'simcom-sim800', driver: 'simcom',
    // ATI "SIM800 R14.18", +CGMR "Revision:1418B04SIM800L24" (ref §5); CGMI/CGMM inference.
    manufacturer: 'SIMCOM_Ltd', model: 'SIMCOM_SIM800L', revision: 'Revision:1418B04SIM800L24',
    ati: ['SIM800 R14.18'],
    // TACs of real captures: SIM800L 86436903, SIM800C 86834503 (ref §5).
    gcap: '+GCAP: +CGSM', tacs: ['86436903', '86834503'], rats: ['GSM'],
    iccidCommand: '+CCID', cellDialect: 'simcom-ceng', readModeParam: true, egmr: true, cscsDefault: 'IRA',
    bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', 'Call Ready', 'SMS Ready'],
    stormUrcs: ['RING', '+CREG: 1', '+CMTI: "SM",1'],
  },
  'simcom-sim7600': {
    ...base, id: 'simcom-sim7600', driver: 'simcom', urcEol: '\r\r\n',
    // ATI verbatim from the SIM7600E-H minicom capture (ref §2.2); +CGMR form is inference.
    manufacturer: 'SIMCOM INCORPORATED', model: 'SIMCOM_SIM7600E-H', revision: '+CGMR: LE20B04SIM7600M22',
    ati: ['Manufacturer: SIMCOM INCORPORATED', 'Model: SIMCOM_SIM7600E-H', 'Revision: SIM7600M22_V1.1', 'IMEI: {imei}', '+GCAP: +CGSM'],
    gcap: '+GCAP: +CGSM', tacs: ['86758403'] /* ref §5 */, rats: ['LTE', 'WCDMA', 'GSM'],
    iccidCommand: '+CICCID', cellDialect: 'simcom-cpsi', cregAct: true, copsAct: true, cesq: true,
    // SIMCom MM plugin: PB DONE / SMS DONE (ref §3.3).
    bootUrcs: ['RDY', '+CPIN: READY', 'SMS DONE', 'PB DONE'],
    stormUrcs: ['+CSQ: 17,99', '+CRING: VOICE', 'RING', '+CREG: 1'],
  },
  'wavecom-q2403': {
    ...base, id: 'wavecom-q2403', driver: 'wavecom',
    // +CGMI/+CGMM/+CGMR verbatim (Gammu quick manual, ref §5/§2.3); ATI lines are inference.
    manufacturer: 'WAVECOM MODEM', model: 'MULTIBAND  900E  1800', revision: '641b09gg.Q2403A 1320676 061804 14:38',
    ati: ['WAVECOM MODEM', 'MULTIBAND  900E  1800'],
    gcap: '+GCAP: +CGSM,+FCLASS', tacs: ['35124600', '35180100'] /* SYNTHETIC, pre-2004 6+2 layout */, rats: ['GSM'],
    iccidCommand: '+CCID', cellDialect: 'wavecom-cced', cpinNoOk: true,
    bootUrcs: [], stormUrcs: ['RING', '+CREG: 1', '+WIND: 4'],
  },
  'huawei-e173': {
    ...base, id: 'huawei-e173', driver: 'huawei',
    // Layout of MM's simulator ATI (itself Huawei-like); revision string is inference.
    manufacturer: 'huawei', model: 'E173', revision: '11.126.85.00.209',
    ati: ['Manufacturer: huawei', 'Model: E173', 'Revision: 11.126.85.00.209', 'IMEI: {imei}', '+GCAP: +CGSM,+DS,+ES'],
    gcap: '+GCAP: +CGSM,+DS,+ES', tacs: ['35846004', '86307601'] /* SYNTHETIC */, rats: ['WCDMA', 'GSM'],
    iccidCommand: '^ICCID', cellDialect: 'huawei', huaweiNoise: true, smsIndexBase: 0, smsCapacity: 40,
    cregQuoted: false, copsAct: true,
    bootUrcs: ['^SIMST: 1'], stormUrcs: ['^RSSI:17', '^MODE:5,4', '^SRVST:2'],
  },
};

export function getProfile(id: ProfileId): VendorProfile {
  return PROFILES[id];
}

/** Session settings at power-up: echo on (ATE1), verbose, CMEE=0, PDU mode (§3.1, §3.5). */
export function defaultSettings(p: VendorProfile): ModemSettings {
  return {
    echo: true, verbose: true, cmee: 0, cmgf: 0, cscs: p.cscsDefault, cregN: 0, cgregN: 0, ceregN: 0, copsFormat: 0,
    smsStorage: 'SM', phonebookStorage: 'SM', clip: false, curc: 1, qeng: { mode: 0, dump: 0 }, ceng: { mode: 0, ncell: 0 },
    cced: { mode: 2, dump: 15 }, cnmi: '2,1,0,0,0',
  };
}
