/**
 * What the module says on its own, as lines: the pure half of SimulatedModem's URC methods.
 *
 *   ring()            RING [+CLIP: "<n>",145,,,,0]                  §1.10
 *   deliverSms()      stored parts ──► +CMTI: "SM",<idx> per part   §1.8
 *   setRegistration() +CREG: <stat>[,<lac>,<ci>] per AT+CxREG=n      §1.3
 *   Huawei noise      ^RSSI:<n> / ^MODE:<m>,<s> until AT^CURC=0      §2.4
 *   cell pages        +CENG pages (CENG=2, each ends with an empty line), +CCED shots (CCED=1)  §2.2/§2.3
 */
import { ccedLines, cengCells } from './cells.js';
import type { CommandContext } from './context.js';
import type { FaultState } from './faults.js';
import { smsTimeAt, storeMessages, type SmsTime } from './inbox.js';
import { registrationBody } from './network-commands.js';
import type { VendorProfile } from './profiles.js';
import type { Rng } from './random.js';
import { freeIndex } from './sms-commands.js';
import type { ModemSettings, ModemState, SimCard, StoredSms } from './types.js';

export interface IncomingSms {
  sender: string;
  text: string;
  /** Default: now, in China time (+32 quarter hours). */
  timestamp?: SmsTime;
  platform?: string;
  code?: string;
}

export function ringLines(settings: ModemSettings, number: string): string[] {
  const lines = ['RING'];
  if (settings.clip) lines.push('', `+CLIP: "${number}",${number.startsWith('+') ? 145 : 129},,,,0`);
  return lines;
}

/** Store an arriving message on the SIM, one slot per part; parts that find no free slot are lost. */
export function storeIncoming(sim: SimCard, profile: VendorProfile, rng: Rng, msg: IncomingSms): StoredSms[] {
  const timestamp = msg.timestamp ?? smsTimeAt(Date.now(), 32);
  const parts = storeMessages(
    [{ platform: msg.platform ?? 'unknown', code: msg.code ?? '', sender: msg.sender, text: msg.text, timestamp, status: 0 }],
    { smsc: sim.smsc, indexBase: 0, rng, outOfOrderChance: 0 },
  );
  const stored: StoredSms[] = [];
  for (const p of parts) {
    const index = freeIndex(sim, profile.smsIndexBase);
    if (index === undefined) break;
    const entry = { ...p, index };
    sim.sms.push(entry);
    stored.push(entry);
  }
  return stored;
}

export function registrationUrcs(settings: ModemSettings, state: ModemState, faults: FaultState, profile: VendorProfile): string[] {
  const modes: Array<['+CREG' | '+CGREG' | '+CEREG', number]> = [['+CREG', settings.cregN], ['+CGREG', settings.cgregN], ['+CEREG', settings.ceregN]];
  return modes.filter(([, n]) => n > 0).map(([cmd, n]) => `${cmd}: ${registrationBody(cmd, n, state, faults, profile, true)}`);
}

export function huaweiNoiseLine(state: ModemState, turn: number): string {
  return turn % 2 ? `^RSSI:${state.csq.rssi}` : `^MODE:${state.cells.serving.rat === 'WCDMA' ? '5,4' : '3,3'}`;
}

/** URC blocks due on a cell-page tick. */
export function cellPageUrcs(ctx: CommandContext): string[][] {
  const out: string[][] = [];
  if (ctx.settings.ceng.mode === 2) {
    const lines = cengCells(ctx);
    // SITCH fixtures: "Each URC page ends with an empty line" (§2.2).
    if (lines.length) out.push([...lines, '']);
  }
  if (ctx.settings.cced.mode === 1) {
    const lines = ccedLines(ctx, ctx.settings.cced.dump);
    if (lines.length) out.push(lines);
  }
  return out;
}
