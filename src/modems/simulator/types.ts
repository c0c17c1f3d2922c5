/**
 * Types of the simulated modem bank (our "mock controller", after zwave-js: see STYLE.md).
 *
 *   SimulatedBank ──► PtyLink (socat pair) ──► SimulatedModem ──► ModemState (IMEI, SIM, cells)
 *                                                   │               └─► SimCard (IMSI, ICCID, SMS, phonebook)
 *                                                   ├─► VendorProfile (strings, dialect, quirks)
 *                                                   └─► FaultSwitches (silence, garbage, late OK …)
 *
 * Everything here is data: the interpreter (modem.ts) reads it, tests and the bank build it.
 */

export type ProfileId =
  | 'generic'
  | 'quectel-ec25'
  | 'quectel-m35'
  | 'simcom-sim800'
  | 'simcom-sim7600'
  | 'wavecom-q2403'
  | 'huawei-e173';

export const PROFILE_IDS: readonly ProfileId[] = [
  'generic', 'quectel-ec25', 'quectel-m35', 'simcom-sim800', 'simcom-sim7600', 'wavecom-q2403', 'huawei-e173',
];

export type Rat = 'GSM' | 'WCDMA' | 'LTE';

/** A PLMN as +COPS shows it in its three formats (at-commands.md §1.4). */
export interface Operator {
  long: string;
  short: string;
  /** MCC + MNC, e.g. "46000". */
  numeric: string;
}

/** One radio cell in neutral units; each vendor's formatter renders it its own way (§2). */
export interface SimCell {
  rat: Rat;
  mcc: string;
  /** Two digits for China ("00", "01", "11"). */
  mnc: string;
  /** LAC (GSM/WCDMA) or TAC (LTE). */
  lac: number;
  /** 16-bit on GSM, 28-bit on WCDMA/LTE. */
  ci: number;
  /** ARFCN, UARFCN or EARFCN. */
  arfcn: number;
  bsic: number;
  psc: number;
  pci: number;
  band: number;
  /** RxLev in dBm (GSM), RSCP (WCDMA) or RSRP (LTE). */
  levelDbm: number;
  /** RxQual 0–7 (GSM), Ec/Io dB (WCDMA) or RSRQ dB (LTE). */
  quality: number;
  /** LTE SINR dB; 0 elsewhere. */
  sinr: number;
}

export interface CellEnvironment {
  serving: SimCell;
  neighbours: SimCell[];
}

/** 27.005 message status in PDU mode: 0 REC UNREAD, 1 REC READ, 2 STO UNSENT, 3 STO SENT. */
export type SmsStatus = 0 | 1 | 2 | 3;

/** One storage slot: a message, or one part of a concatenated message. */
export interface StoredSms {
  index: number;
  status: SmsStatus;
  /** SMS-DELIVER PDU as hex, SMSC address included (what +CMGL/+CMGR print). */
  pdu: string;
  /** TPDU octets, SMSC excluded: the `<length>` of +CMGL/+CMGR (27.005). */
  tpduLength: number;
  /** Originating address as text mode shows it ("+8613800138000", "10690000", "95188"). */
  sender: string;
  /** Text-mode timestamp "yy/MM/dd,hh:mm:ss±zz" (zone in quarter hours, §3.5). */
  timestamp: string;
  /** This part's text. */
  text: string;
  /** True for DCS 0x08 (UCS-2); false for GSM 7-bit. */
  ucs2: boolean;
  concat?: { reference: number; total: number; sequence: number };
  /** Which service sent it (for tests and the demo): 'qq', 'wechat', 'alipay', … */
  platform?: string;
  /** The verification code inside, when there is one. */
  code?: string;
}

export interface PhonebookEntry {
  index: number;
  number: string;
  /** 129 national/unknown, 145 international, 161 national. */
  type: number;
  name: string;
}

export interface SimCard {
  imsi: string;
  /** 19 or 20 digits, Luhn-checked, 8986… for China (§1.7). */
  iccid: string;
  /** Own number for +CNUM; absent on most prepaid pool SIMs (§1.7 inference). */
  msisdn?: string;
  operator: Operator;
  /** Service centre as +CSCA shows it. */
  smsc: string;
  /** A SIM that still wants its PIN: +CPIN: SIM PIN, SIM commands fail with +CME ERROR: 11. */
  pinLocked: boolean;
  pin: string;
  sms: StoredSms[];
  smsCapacity: number;
  phonebook: PhonebookEntry[];
  phonebookCapacity: number;
}

export interface ModemState {
  /** 15 digits, Luhn-valid unless a test wants otherwise. */
  imei: string;
  /** Undefined: no SIM in the slot. */
  sim?: SimCard;
  /** 27.007 <stat>: 0 idle, 1 home, 2 searching, 3 denied, 5 roaming. */
  registration: number;
  csq: { rssi: number; ber: number };
  cells: CellEnvironment;
  /** Remote-SIM (SIM bank) operation: AT+SIMDATA answered, +SIMDATA URCs (goip-protocols.md §1.7). */
  remoteSim: boolean;
}

/** Session settings a module forgets on power-up (ATZ, re-plug); never saved by the simulator. */
export interface ModemSettings {
  echo: boolean;
  /** ATV1 verbose result codes; ATV0 numeric. */
  verbose: boolean;
  cmee: 0 | 1 | 2;
  /** 0 PDU, 1 text. */
  cmgf: 0 | 1;
  cscs: string;
  cregN: number;
  cgregN: number;
  ceregN: number;
  /** +COPS format selected by AT+COPS=3,<f>: 0 long, 1 short, 2 numeric. */
  copsFormat: 0 | 1 | 2;
  smsStorage: string;
  phonebookStorage: string;
  clip: boolean;
  /** Huawei ^CURC: 1 = ^RSSI/^MODE noise on. */
  curc: number;
  qeng: { mode: number; dump: number };
  ceng: { mode: number; ncell: number };
  cced: { mode: number; dump: number };
  cnmi: string;
}

/** What a destructive or state-changing command would have done. */
export type AttemptKind =
  | 'sms-delete' | 'sms-write' | 'sms-send' | 'phonebook-write' | 'sim-write' | 'pin'
  | 'power' | 'network' | 'imei-write' | 'profile-save' | 'call' | 'ussd';

export interface AttemptRecord {
  /** Order among all commands the modem executed (1-based). */
  seq: number;
  command: string;
  kind: AttemptKind;
  /** Whether the simulated module carried it out (as the real one would). */
  applied: boolean;
  detail?: string;
}

/** A state change caused by a read (REC UNREAD → REC READ after +CMGL/+CMGR, §3.5 inference). */
export interface SideEffectRecord {
  seq: number;
  command: string;
  detail: string;
}

/** How one sub-command ended. `none`: no final result at all (Wavecom +CPIN?, §2.3). */
export type FinalCode =
  | { kind: 'ok' }
  | { kind: 'error' }
  /** Numeric (CMEE=1) or verbose text (CMEE=2); helpers in context.ts pick by the CMEE mode. */
  | { kind: 'cme'; code: number | string }
  | { kind: 'cms'; code: number | string }
  | { kind: 'none' }
  | { kind: 'prompt' }
  /** Other final results: NO CARRIER, BUSY, NO ANSWER (§0 takeaway 2). */
  | { kind: 'text'; text: string };

export interface Reply {
  lines: string[];
  final: FinalCode;
  /** The module takes this long before answering (AT+COPS=? scans for 20–180 s, §6 item 5). */
  delayMs?: number;
}
