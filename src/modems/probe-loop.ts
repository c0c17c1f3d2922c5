/**
 * The probe's modem bank, unattended (`goipwatch run`): survey every port, listen until the next
 * survey, and start over; a module plugged back in while listening is surveyed at once (it may
 * hold another SIM: farms swap them). What it finds goes to the owner's callbacks (the daemon
 * stores and reports it); a failure of the loop restarts it after 30 s rather than leaving the
 * bank unattended until the next restart.
 *
 *   ports (config, else /dev/serial/by-path) ─► surveyBank (per port, its driver) ─► onSurvey
 *        └─► listenBank until: surveyIntervalS elapsed │ a port replugged │ stop()
 *              events ─► onEvent(e, listen start)      │ transcripts per opening ─► onListenEnd
 */
import type { Logger } from 'pino';
import { listSerialPorts } from '../at/discovery.js';
import type { ModemsConfig } from '../config/types.js';
import { describeError } from '../errors.js';
import { surveyBank, type PortOutcome } from './bank.js';
import { listenBank, type ListenOutcome, type ModemEvent } from './listen.js';
import type { PortSurvey } from './types.js';

export interface ProbeLoopCallbacks {
  onSurvey(results: Array<PortOutcome<PortSurvey>>): void;
  /** `listenStarted` (ISO) names the listen window: with the event's session and line, its transcript line. */
  onEvent(e: ModemEvent, listenStarted: string): void;
  onListenEnd(outcomes: ListenOutcome[], listenStarted: string): void;
}

export class ProbeModemLoop {
  private stopping = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** Ports found for the last survey. */
  portsTotal = 0;

  constructor(private readonly config: ModemsConfig, private readonly cb: ProbeLoopCallbacks, private readonly log: Logger) {}

  start(): void {
    if (!this.config.enabled || this.stopping) return;
    const stopped = new Promise<void>((r) => { this.wake = r; });
    this.running = this.loop(stopped).catch((e: unknown) => {
      this.log.error({ err: describeError(e) }, 'modem loop failed; restarting it in 30 s');
      if (!this.stopping) setTimeout(() => this.start(), 30_000).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  private async loop(stopped: Promise<void>): Promise<void> {
    while (!this.stopping) {
      const ports = this.config.ports.length ? this.config.ports.map((p) => p.path) : (await listSerialPorts()).map((p) => p.path);
      this.portsTotal = ports.length;
      if (ports.length) this.cb.onSurvey(await this.survey(ports));
      const nextSurvey = new Promise<void>((r) => { setTimeout(r, this.config.surveyIntervalS * 1000).unref(); });
      let replugged!: () => void;
      const back = new Promise<void>((r) => { replugged = r; });
      const until = Promise.race([nextSurvey, stopped, back]);
      if (this.config.listen && ports.length && !this.stopping) {
        const listenStarted = new Date().toISOString();
        const outcomes = await listenBank(ports, (e) => {
          this.cb.onEvent(e, listenStarted);
          if (e.kind === 'replugged') replugged();
        }, until);
        this.cb.onListenEnd(outcomes, listenStarted);
      } else await until;
    }
  }

  /** Every port at once, each with its configured driver (a mixed override list runs per port). */
  private survey(ports: string[]): Promise<Array<PortOutcome<PortSurvey>>> {
    const driverOf = new Map(this.config.ports.map((p) => [p.path, p.driver]));
    return Promise.all(ports.map(async (port) => {
      const d = driverOf.get(port);
      return (await surveyBank([port], d && d !== 'auto' ? { driver: d } : {}))[0]!;
    }));
  }
}
