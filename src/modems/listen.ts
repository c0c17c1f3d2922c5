/**
 * `modems listen`: incoming test calls (RING / +CLIP caller id) and new messages (+CMTI index,
 * +CMT text/PDU) as events, from every port at once until told to stop; a module unplugged while
 * listening is reported, waited for, and listened to again when it comes back.
 *
 *   per port: open ─► AT+CLIP=1, AT+CNMI=2,1 (volatile settings, 27.007 §7.6, 27.005 §3.4.1)
 *             channel URCs ──► ModemEvent (port, kind, caller / memory+index / data, transcript line)
 *             port lost (unplug) ──► 'unplugged' ─► reopen with capped, jittered backoff ─► 'replugged'
 *                                    ─► open again (the module forgot its settings: §4, rerun them)
 *
 * Transcript line numbers count within one opening of the port (`session`, from 1): a reopened
 * port starts a new transcript.
 */
import { isParseError, parseClip, parseCmti } from '../at/parsers.js';
import { backoffDelayMs, type BackoffOptions } from '../at/serial-binding.js';
import type { TranscriptEntry } from '../at/types.js';
import { describeError } from '../errors.js';
import { componentLogger } from '../log.js';
import { openPort, type PortOutcome, type PortSession } from './bank.js';

export interface ModemEvent {
  port: string;
  kind: 'ring' | 'caller-id' | 'new-sms' | 'sms' | 'call-ended' | 'remote-sim' | 'unplugged' | 'replugged' | 'other';
  urc: string;
  line: string;
  caller?: string;
  memory?: string;
  index?: number;
  data?: string;
  transcriptLine: number;
  /** Which opening of the port the transcript line belongs to (1, 2, … after each replug). */
  session: number;
  at: string;
}

const KINDS: Record<string, ModemEvent['kind']> = {
  RING: 'ring', '+CRING': 'ring', '+CLIP': 'caller-id', '+CMTI': 'new-sms', '+CMT': 'sms', 'NO CARRIER': 'call-ended', '+SIMDATA': 'remote-sim',
};

export interface ListenOptions {
  /** Delays between attempts to reopen a lost port (default 0.5 s doubling to 30 s, ±25 %). */
  reopen?: BackoffOptions;
}

/** Transcript entries kept per port in memory (as onEveryPort does). */
const TRANSCRIPT_CAP = 100_000;

/** A port's listen: its event count, and its transcript per opening (`sessions[k]` is session k + 1). */
export interface ListenOutcome extends PortOutcome<number> {
  sessions: TranscriptEntry[][];
}

/**
 * Listen on every port until `until` resolves; each event goes to `onEvent` as it comes. The
 * result per port counts its events; `error` is set when the port could never be opened.
 */
export async function listenBank(ports: string[], onEvent: (e: ModemEvent) => void, until: Promise<void>, opts: ListenOptions = {}): Promise<ListenOutcome[]> {
  let stopped = false;
  const stop = until.then(() => {
    stopped = true;
  });
  return Promise.all(ports.map((port) => listenPort(port, onEvent, stop, () => stopped, opts)));
}

async function listenPort(
  port: string, onEvent: (e: ModemEvent) => void, stop: Promise<void>, isStopped: () => boolean, opts: ListenOptions,
): Promise<ListenOutcome> {
  const log = componentLogger('listen', { port });
  const transcript: TranscriptEntry[] = [];
  const sessions: TranscriptEntry[][] = [];
  let current: TranscriptEntry[] = [];
  const sink = (e: TranscriptEntry): void => {
    if (transcript.length >= TRANSCRIPT_CAP) return;
    transcript.push(e);
    current.push(e);
  };
  const now = (): string => new Date().toISOString();
  let count = 0;
  let session = 0;
  let lost: { line: string; transcriptLine: number } | undefined;
  let failures = 0;
  let firstError: string | undefined;
  while (!isStopped()) {
    let s: PortSession;
    current = [];
    try {
      s = await openPort(port, { transcript: sink });
    } catch (e) {
      // Not there (yet): the first open of a listen is an error of this port; after an unplug, the wait.
      if (session === 0 && failures === 0) firstError = describeError(e);
      if (failures === 0 && !lost) log.warn({ err: describeError(e) }, 'cannot open the port to listen; retrying with backoff');
      else log.debug({ err: describeError(e), failures }, 'port still not available');
      await Promise.race([stop, new Promise((r) => setTimeout(r, backoffDelayMs(failures++, opts.reopen)))]);
      continue;
    }
    session++;
    sessions.push(current);
    failures = 0;
    firstError = undefined;
    const emit = (e: Omit<ModemEvent, 'port' | 'session' | 'at'>): void => {
      count++;
      onEvent({ port, session, at: now(), ...e });
    };
    if (lost) {
      emit({ kind: 'replugged', urc: '', line: `back after: ${lost.line}`, transcriptLine: 0 });
      log.info('modem is back; listening again');
      lost = undefined;
    }
    const gone = new Promise<Error>((resolve) => s.onLost(resolve));
    await s.channel.send('AT+CLIP=1').catch(() => undefined);
    await s.channel.send('AT+CNMI=2,1').catch(() => undefined);
    const off = s.channel.onUrc((u) => {
      const e: Omit<ModemEvent, 'port' | 'session' | 'at'> = { kind: KINDS[u.name] ?? 'other', urc: u.name, line: u.line, transcriptLine: u.transcriptLine };
      if (u.name === '+CLIP') {
        const c = parseClip(u.line);
        if (!isParseError(c)) e.caller = c.number;
      } else if (u.name === '+CMTI') {
        const m = parseCmti(u.line);
        if (!isParseError(m)) Object.assign(e, m);
      }
      if (u.data !== undefined) e.data = u.data;
      emit(e);
    });
    const why = await Promise.race([stop.then(() => undefined), gone]);
    off();
    if (why !== undefined) {
      const last = s.channel.transcript().at(-1);
      lost = { line: `port went away (${describeError(why)})`, transcriptLine: last?.n ?? 0 };
      emit({ kind: 'unplugged', urc: '', line: lost.line, transcriptLine: lost.transcriptLine });
      log.warn({ err: lost.line }, 'modem went away while listening; waiting for it to come back');
    }
    await s.close().catch((e: unknown) => log.debug({ err: describeError(e) }, 'close failed'));
  }
  return { port, result: count, ...(firstError !== undefined && session === 0 ? { error: firstError } : {}), transcript, sessions };
}
