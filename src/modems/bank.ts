/**
 * The modem bank: every port on its own channel, all at once, so a slow or dead module never
 * holds up the others.
 *
 *   ports ──► per port (in parallel): NodeSerialBinding ─► AtChannel (policy: read-only) ─► job
 *                                              │ transcript sink (memory or file)
 *   results ◄── Promise.allSettled: one result per port, with its error when it failed
 */
import { NodeSerialBinding } from '../at/serial-binding.js';
import { AtChannel } from '../at/channel.js';
import { refusalReason } from '../at/policy.js';
import type { TranscriptSink } from '../at/transcript.js';
import type { AtRunner, TranscriptEntry } from '../at/types.js';
import type { DriverId } from '../../drivers/types.js';
import { describeError } from '../errors.js';
import { componentLogger } from '../log.js';
import { surveyModule } from './survey.js';
import type { PortSurvey } from './types.js';

export interface PortSession {
  port: string;
  channel: AtChannel;
  /** Called once if the port goes away under us (unplug), not on our own close(). */
  onLost(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

export interface OpenOptions {
  baudRate?: number;
  transcript?: TranscriptSink;
  /** Commands the policy refuses are allowed (the expert console's --force). */
  force?: boolean;
}

/** Open a port with a read-only AT channel. */
export async function openPort(path: string, opts: OpenOptions = {}): Promise<PortSession> {
  const binding = new NodeSerialBinding({ path, baudRate: opts.baudRate ?? 115200 });
  await binding.open();
  const channel = new AtChannel(binding, {
    transcript: opts.transcript,
    refuse: opts.force ? undefined : refusalReason,
    log: componentLogger('at', { port: path }),
  });
  return {
    port: path,
    channel,
    onLost: (listener) => binding.onClose((error) => {
      if (error) listener(error);
    }),
    close: async () => {
      await channel.close();
    },
  };
}

export interface PortOutcome<T> {
  port: string;
  result?: T;
  error?: string;
  transcript: TranscriptEntry[];
}

/** Run `job` on every port in parallel; each port's failure stays its own. */
export async function onEveryPort<T>(
  ports: string[], job: (at: AtRunner, session: PortSession) => Promise<T>, opts: OpenOptions & { transcriptFor?: (port: string) => TranscriptSink } = {},
): Promise<Array<PortOutcome<T>>> {
  const log = componentLogger('bank');
  return Promise.all(ports.map(async (port): Promise<PortOutcome<T>> => {
    const transcript: TranscriptEntry[] = [];
    const extra = opts.transcriptFor?.(port);
    const sink: TranscriptSink = (e) => {
      if (transcript.length < 100_000) transcript.push(e);
      extra?.(e);
    };
    let session: PortSession | undefined;
    try {
      session = await openPort(port, { ...opts, transcript: sink });
      const result = await job(session.channel, session);
      return { port, result, transcript };
    } catch (e) {
      log.warn({ port, err: describeError(e) }, `${port}: ${describeError(e)}`);
      return { port, error: describeError(e), transcript };
    } finally {
      if (session) {
        await session.close().catch((e: unknown) => log.debug({ port, err: describeError(e) }, 'close failed'));
      }
    }
  }));
}

export async function surveyBank(ports: string[], opts: OpenOptions & { driver?: DriverId } = {}): Promise<Array<PortOutcome<PortSurvey>>> {
  return onEveryPort(ports, async (at) => (await surveyModule(at, { driver: opts.driver })).survey, opts);
}
