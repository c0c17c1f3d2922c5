/**
 * `modems listen`: incoming test calls (RING / +CLIP caller id) and new messages (+CMTI index,
 * +CMT text/PDU) as events, from every port at once until told to stop.
 *
 *   per port: AT+CLIP=1, AT+CNMI=2,1 (volatile settings, 27.007 §7.6, 27.005 §3.4.1)
 *             channel URCs ──► ModemEvent (port, kind, caller / memory+index / data, transcript line)
 */
import { isParseError, parseClip, parseCmti } from '../at/parsers.js';
import { onEveryPort, type PortOutcome } from './bank.js';

export interface ModemEvent {
  port: string;
  kind: 'ring' | 'caller-id' | 'new-sms' | 'sms' | 'call-ended' | 'remote-sim' | 'other';
  urc: string;
  line: string;
  caller?: string;
  memory?: string;
  index?: number;
  data?: string;
  transcriptLine: number;
  at: string;
}

const KINDS: Record<string, ModemEvent['kind']> = {
  RING: 'ring', '+CRING': 'ring', '+CLIP': 'caller-id', '+CMTI': 'new-sms', '+CMT': 'sms', 'NO CARRIER': 'call-ended', '+SIMDATA': 'remote-sim',
};

/** Listen on every port until `until` resolves; each event goes to `onEvent` as it comes. */
export async function listenBank(ports: string[], onEvent: (e: ModemEvent) => void, until: Promise<void>): Promise<Array<PortOutcome<number>>> {
  return onEveryPort(ports, async (at, session) => {
    await at.send('AT+CLIP=1').catch(() => undefined);
    await at.send('AT+CNMI=2,1').catch(() => undefined);
    let count = 0;
    const off = session.channel.onUrc((u) => {
      const e: ModemEvent = {
        port: u.port, kind: KINDS[u.name] ?? 'other', urc: u.name, line: u.line, transcriptLine: u.transcriptLine, at: new Date().toISOString(),
      };
      if (u.name === '+CLIP') {
        const c = parseClip(u.line);
        if (!isParseError(c)) e.caller = c.number;
      } else if (u.name === '+CMTI') {
        const m = parseCmti(u.line);
        if (!isParseError(m)) Object.assign(e, m);
      }
      if (u.data !== undefined) e.data = u.data;
      count++;
      onEvent(e);
    });
    await until;
    off();
    return count;
  });
}
