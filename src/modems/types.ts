/**
 * What the modem bank produces: one survey per port, the SMS and phonebook of a dump, and the
 * findings drawn from them. Every value points back to a transcript line of its port.
 */
import type { AccessTechnology, CellInfo, DriverId } from '../../drivers/types.js';

/** A fact read over AT, with the transcript line it came from. */
export interface TranscriptRef {
  port: string;
  /** 1-based line of the port's transcript: the command whose answer (the lines after it, up to its final result) holds the value. */
  line: number;
}

export interface PortSurvey {
  /** Stable port name (a /dev/serial/by-path link when there is one). */
  port: string;
  driver: DriverId;
  /** False when the port never answered AT. */
  answered: boolean;
  manufacturer?: string;
  model?: string;
  revision?: string;
  imei?: string;
  /** +CPIN state: READY, SIM PIN, NOT INSERTED, ... */
  simState?: string;
  imsi?: string;
  iccid?: string;
  msisdn?: string;
  operator?: { name?: string; numeric?: string; act?: AccessTechnology };
  registration?: { stat: number; state: string; lac?: string; tac?: string; cellId?: string; act?: AccessTechnology };
  signal?: { csq?: number; rssiDbm?: number; rsrpDbm?: number; rsrqDb?: number; rscpDbm?: number };
  cells: CellInfo[];
  /** Remote-SIM markers seen (AT+SIMDATA answered, +SIMDATA URCs). */
  remoteSimMarkers: number;
  /** Commands that failed, with why (a survey goes on past a failure). */
  errors: Array<{ command: string; error: string }>;
  /** Where each identifier was read. */
  refs: Partial<Record<'imei' | 'imsi' | 'iccid' | 'msisdn' | 'model', TranscriptRef>>;
  startedAt: string;
  durationMs: number;
}

export interface DumpedSms {
  port: string;
  index: number;
  status: string;
  sender: string;
  text: string;
  /** Service-centre timestamp as the PDU states it (ISO with the PDU's zone), when there is one. */
  timestamp?: string;
  /** For concatenated messages: every part's index, in order; missing parts listed. */
  parts?: { reference: number; total: number; indexes: number[]; missing: number[] };
  pdu?: string;
  ref: TranscriptRef;
}

export interface PhonebookEntry {
  port: string;
  storage: string;
  index: number;
  number: string;
  name: string;
  ref: TranscriptRef;
}

export type ModemFindingKind =
  | 'imei-luhn-failure'
  | 'imei-all-zero'
  | 'imei-repeated'
  | 'iccid-consecutive-run'
  | 'verification-codes'
  | 'remote-sim';

export interface ModemFinding {
  kind: ModemFindingKind;
  summary: string;
  ports: string[];
  /** Counts per platform or per SIM where the finding counts things. */
  counts?: Record<string, number>;
  refs: TranscriptRef[];
}
