/**
 * The probe daemon (`goipwatch run`): the live pipeline wired together, unattended.
 *
 *   LiveCapture(iface)… ─► CapturePipeline ─► DetectionEngine ──(every findingsIntervalMs)──┐
 *   modem bank: survey every surveyIntervalS, listen in between ─► surveys, SMS, events ─────┤
 *   heartbeat every intervalS ─────────────────────────────────────────────────────────────────┤
 *                                                                                             ▼
 *                              ProbeStore.write (findings + outbox rows in one transaction)
 *                                                                                             │
 *                              MqttReporter drains the outbox (sent only on PUBACK) ◄─────────┘
 *
 * Findings are updated, not repeated: a finding goes out again only when its confidence, family
 * or evidence changed. systemd: READY=1 once everything is up, WATCHDOG=1 from the event loop (a
 * blocked loop stops the pings and systemd restarts us).
 */
import { spawn } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { GoipwatchConfig } from './config/types.js';
import { LiveCapture } from './capture/live-source.js';
import { CapturePipeline } from './capture/pipeline.js';
import { readCaptureFile } from './capture/file-source.js';
import { DetectionEngine } from './detect/engine.js';
import { loadSignatures } from './detect/signatures.js';
import type { Finding, SimRecord } from './detect/model.js';
import { ProbeStore } from './store/probe-store.js';
import { ReportContract } from './report/contract.js';
import { MqttReporter } from './report/mqtt-reporter.js';
import { Secret } from './report/mqtt-reporter.js';
import { ProbeModemLoop, type ProbeLoopCallbacks } from './modems/probe-loop.js';
import { modemFindings } from './modems/findings.js';
import type { PortSurvey } from './modems/types.js';
import { componentLogger } from './log.js';
import { describeError } from './errors.js';
import { toolVersion } from './version.js';
import { ClockTracker } from './clock.js';
import { LiveEvidence } from './live-evidence.js';
import type { ClosedEvidenceFile } from './store/evidence-files.js';
import type { EvidenceSource } from './detect/model.js';

export interface DaemonOptions {
  /** MQTT protocol version (5 unless the broker lacks it, like the demo's embedded one). */
  mqttProtocolVersion?: 4 | 5;
  /** ms between taking results from the detector (default: capture.reportIntervalS of the config). */
  findingsIntervalMs?: number;
  /** ms between retention passes (default 10 min). */
  retentionIntervalMs?: number;
  /** Clock state as `doctor` found it; reported in heartbeats. */
  clock?: () => Promise<{ synced: boolean; source?: string }>;
}

export interface DaemonStats {
  startedAt: number;
  findingsSent: number;
  surveys: number;
  events: number;
  capture: Array<{ iface: string; frames: number; received: number; droppedByKernel: number }>;
}

/** systemd's sd_notify through the systemd-notify tool (Node has no unix datagram sockets). */
function sdNotify(state: string): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const child = spawn('systemd-notify', [state], { stdio: 'ignore' });
  child.on('error', () => undefined);
}

/** What identifies a finding's content: a change here (or the clock becoming synced) sends it again. */
function revision(f: Finding, clockSynced: boolean): string {
  return [f.family, f.confidence, f.categories.join(','), f.evidence.map((e) => `${e.signature}:${e.count}`).join(','), clockSynced].join('|');
}

function correctFinding(f: Finding, clock: ClockTracker): Finding {
  return {
    ...f,
    firstSeen: clock.correct(f.firstSeen),
    lastSeen: clock.correct(f.lastSeen),
    evidence: f.evidence.map((e) => ({ ...e, firstSeen: clock.correct(e.firstSeen), lastSeen: clock.correct(e.lastSeen) })),
  };
}

export class Daemon {
  private readonly log = componentLogger('daemon');
  private readonly captures: LiveCapture[] = [];
  private readonly engine: DetectionEngine;
  private readonly pipelines: CapturePipeline[] = [];
  private readonly sent = new Map<string, string>();
  private readonly simsSent = new Map<string, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private reporter: MqttReporter | undefined;
  private readonly modems: ProbeModemLoop;
  private stopping = false;
  private readonly clock = new ClockTracker();
  private portsUp = 0;
  private readonly evidence: LiveEvidence;
  private refusedLogged = 0;
  private failedLogged = 0;
  readonly stats: DaemonStats = { startedAt: Date.now(), findingsSent: 0, surveys: 0, events: 0, capture: [] };

  private constructor(
    private readonly config: GoipwatchConfig,
    private readonly store: ProbeStore,
    private readonly contract: ReportContract,
    private readonly opts: DaemonOptions,
  ) {
    this.engine = new DetectionEngine(loadSignatures(), { behaviour: config.behaviour });
    const since = new Date(this.stats.startedAt).toISOString();
    // Evidence files only where there is live capture to keep frames of.
    const files = config.capture.interfaces.length === 0 ? undefined : store.evidenceFiles({
      dir: join(config.probe.stateDir, 'evidence'),
      runStarted: new Date(this.stats.startedAt),
      maxTotalBytes: config.capture.evidenceMaxMb * 1024 * 1024,
      onClosed: (f) => this.evidenceClosed(f),
    });
    this.evidence = new LiveEvidence(files, since);
    this.modems = new ProbeModemLoop(config.modems, this.modemCallbacks(), componentLogger('modems'));
  }

  static async start(config: GoipwatchConfig, opts: DaemonOptions = {}): Promise<Daemon> {
    const store = ProbeStore.open(config.store.path, { quotaBytes: config.store.quotaMb * 1024 * 1024 });
    const contract = new ReportContract({
      probeId: config.probe.id,
      baseTopic: config.mqtt?.baseTopic,
      identifiers: config.mqtt?.identifiers ?? 'full',
      identifierKey: config.mqtt?.hashKey,
      version: toolVersion(),
    });
    const d = new Daemon(config, store, contract, opts);
    await d.checkClock();
    try {
      d.startCapture();
      d.startReporter();
      d.modems.start();
      d.startTimers();
    } catch (e) {
      await d.stop();
      throw e;
    }
    // A systemd-notify child that exits at once can have its message dropped (systemd < 254):
    // repeating READY=1 is harmless and makes it arrive.
    sdNotify('--ready');
    for (const ms of [1000, 5000]) setTimeout(() => sdNotify('--ready'), ms).unref();
    d.log.info({ probe: config.probe.id, interfaces: config.capture.interfaces, modems: config.modems.enabled, mqtt: Boolean(config.mqtt) }, 'probe running');
    return d;
  }

  private startCapture(): void {
    for (const [i, iface] of this.config.capture.interfaces.entries()) {
      const pipeline = new CapturePipeline((o) => this.engine.observe(o), undefined, this.engine.rtpSink);
      pipeline.beginFile(i);
      const live = new LiveCapture({ iface, filter: this.config.capture.filter, bufferBytes: this.config.capture.bufferSizeMb * 1024 * 1024, snaplen: this.config.capture.snaplen });
      const keep = this.evidence.addInterface(i, iface, this.config.capture.evidenceBufferMb * 1024 * 1024);
      live.start((f) => {
        const rtp = pipeline.stats.rtpLike;
        pipeline.frame(f);
        // RTP is most of a gateway's traffic and no finding refers to its packets: keeping only the
        // rest makes the ring reach back minutes rather than seconds, past the next report.
        if (pipeline.stats.rtpLike === rtp) keep(f);
      });
      this.captures.push(live);
      this.pipelines.push(pipeline);
    }
  }

  private startReporter(): void {
    const m = this.config.mqtt;
    if (!m) return;
    this.reporter = new MqttReporter({
      url: m.url,
      contract: this.contract,
      outbox: this.store.outbox,
      credentials: m.username ? { username: m.username, password: m.password !== undefined ? new Secret(m.password) : undefined } : undefined,
      tls: m.tls.ca || m.tls.cert ? { caFile: m.tls.ca, certFile: m.tls.cert, keyFile: m.tls.key, rejectUnauthorized: m.tls.rejectUnauthorized } : undefined,
      backoff: { initialMs: m.backoff.initialMs, maxMs: m.backoff.maxMs },
      keepaliveSeconds: m.keepaliveS,
      protocolVersion: this.opts.mqttProtocolVersion,
    });
    this.reporter.start();
  }

  /** Surveys and listen events of the modem bank (src/modems/probe-loop.ts), stored and reported. */
  private modemCallbacks(): ProbeLoopCallbacks {
    return {
      onSurvey: (results) => {
        const surveys = results.map((r) => r.result).filter((s): s is PortSurvey => s !== undefined);
        this.portsUp = surveys.filter((s) => s.answered).length;
        this.stats.surveys++;
        const findings = modemFindings(surveys);
        this.store.write({
          surveys,
          // The raw transcript of each survey is kept with it: its refs (IMEI, IMSI, ICCID lines) point into it.
          surveyTranscripts: new Map(results.map((r) => [r.port, r.transcript])),
          outbox: [...surveys.map((s) => this.contract.survey(s)), ...findings.map((f) => this.contract.modemFinding(f))],
        });
        this.reporter?.notify();
      },
      // An event's transcript line is found by (port, listen start, session, line) in modem_transcripts.
      onEvent: (e, listenStarted) => this.record(this.contract.event({
        kind: `modem-${e.kind}`, severity: e.kind === 'unplugged' ? 'warning' : 'info', message: `${e.port}: ${e.line}`,
        data: { port: e.port, listen: listenStarted, session: e.session, transcriptLine: e.transcriptLine },
      })),
      onListenEnd: (outcomes, listenStarted) => this.store.write({
        listenTranscripts: outcomes.flatMap((o) => o.sessions.map((entries, k) => ({ port: o.port, startedAt: listenStarted, session: k + 1, entries }))),
      }),
    };
  }

  private record(draft: ReturnType<ReportContract['event']>): void {
    this.stats.events++;
    this.store.write({ outbox: [draft] });
    this.reporter?.notify();
  }

  /**
   * Feed a capture file through the live pipeline as if it were traffic on the wire (the demo,
   * and lab staff testing a probe's config). Source numbers from 100 keep it apart from interfaces.
   */
  async replayAsLive(path: string, source = 100): Promise<number> {
    const pipeline = new CapturePipeline((o) => this.engine.observe(o), undefined, this.engine.rtpSink);
    pipeline.beginFile(source);
    this.evidence.addFile(source, basename(path));
    const r = await readCaptureFile(path, (f) => pipeline.frame(f));
    pipeline.endFile();
    this.flushFindings();
    return r.frames;
  }

  /** Take the detector's results; store and report what changed. */
  flushFindings(): void {
    const result = this.engine.finish();
    // Times taken before NTP synchronised are moved onto the real timeline once it has (src/clock.ts).
    const clock = this.clock.state();
    const notes = new Map(result.findings.map((f) => [f.id, this.clockNote(f.firstSeen, clock)]));
    const findings = result.findings.map((f) => correctFinding(f, this.clock));
    const fresh = findings.filter((f) => this.sent.get(f.id) !== revision(f, clock.synced));
    // The frames behind what goes out are written to evidence files first, and made durable
    // before the findings that point at them are committed.
    const sources = new Map<string, EvidenceSource[]>();
    const changed = fresh.map((f) => {
      const p = this.evidence.preserve(f);
      sources.set(f.id, p.sources);
      return p.finding;
    });
    const sims = result.sims.filter((s: SimRecord) => {
      const key = `${s.device}|${s.channel}|${s.imsi ?? ''}`;
      const rev = [s.imei, s.iccid, s.carrier, s.lac, s.cell].join('|');
      if (this.simsSent.get(key) === rev) return false;
      this.simsSent.set(key, rev);
      return true;
    });
    if (!changed.length && !sims.length) return;
    const outbox = [
      ...changed.map((f) => this.contract.finding(f, notes.get(f.id), sources.get(f.id))),
      ...sims.map((s) => {
        const p = this.evidence.preserveSim(s);
        return this.contract.sim(p.sim, p.sources);
      }),
    ];
    try {
      this.evidence.sync();
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'evidence files could not be synced; the findings are stored all the same');
    }
    if (this.evidence.failed > this.failedLogged) {
      this.log.error({ failed: this.evidence.failed, err: this.evidence.lastError }, 'packets behind findings could not be written to evidence files; they are referred to by number only');
      this.failedLogged = this.evidence.failed;
    }
    if (this.evidence.refused > this.refusedLogged) {
      this.log.warn({ refused: this.evidence.refused, evidenceMaxMb: this.config.capture.evidenceMaxMb }, 'evidence files are full: packets behind new findings are referred to by number only');
      this.refusedLogged = this.evidence.refused;
    }
    this.store.write({ findings: changed, findingClocks: notes, findingSources: sources, outbox });
    for (const f of changed) this.sent.set(f.id, revision(f, clock.synced));
    this.stats.findingsSent += changed.length;
    this.reporter?.notify();
  }

  /** An evidence file was closed (rotated, the daemon stopping, or found unhashed after a crash): tell central its hash. */
  private evidenceClosed(f: ClosedEvidenceFile): void {
    this.record(this.contract.event({
      kind: 'evidence-file', severity: f.note ? 'warning' : 'info', message: `${f.name}: ${f.frames} frames, sha256 ${f.sha256}${f.note ? ` (${f.note})` : ''}`,
      data: { file: f.name, interface: f.iface, frames: f.frames, bytes: f.bytes, sha256: f.sha256, ...(f.note ? { note: f.note } : {}) },
    }));
  }

  /** The clock note of a finding: unsynced; or synced, with the correction when its times predate the sync. */
  private clockNote(firstSeen: number, clock: ReturnType<ClockTracker['state']>): { synced: boolean; correctedByMs?: number } {
    if (!clock.synced) return { synced: false };
    return clock.correctedByMs !== undefined && this.clock.isUnsynced(firstSeen) ? clock : { synced: true };
  }

  /** Ask whether the clock is synchronised now (doctor's check), and tell the tracker. */
  async checkClock(): Promise<{ synced: boolean; source?: string }> {
    const c = (await this.opts.clock?.()) ?? { synced: false, source: 'unknown' };
    const before = this.clock.state().synced;
    this.clock.update(c.synced);
    if (!before && this.clock.state().synced) {
      // Findings reported so far carried unsynchronised times: the next flush sends them corrected.
      this.log.info({ correctedByMs: this.clock.state().correctedByMs }, 'clock synchronised: earlier findings are sent again with corrected times');
    }
    return c;
  }

  async heartbeat(): Promise<void> {
    let disk = { freeBytes: 0, totalBytes: 0 };
    try {
      const s = await statfs(dirname(this.config.store.path));
      disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (e) {
      this.log.debug({ err: describeError(e) }, 'statfs failed');
    }
    const cap = this.captures.map((c) => c.stats());
    this.stats.capture = cap.map((c) => ({ iface: c.iface, frames: c.frames, received: c.received, droppedByKernel: c.droppedByKernel }));
    const clock = await this.checkClock();
    const ob = this.store.outbox.stats();
    const mq = this.reporter?.stats();
    this.record(this.contract.heartbeat({
      uptimeSeconds: Math.round((Date.now() - this.stats.startedAt) / 1000),
      intervalSeconds: this.config.heartbeat.intervalS,
      clock,
      capture: cap.length ? { interface: cap.map((c) => c.iface).join(','), packets: cap.reduce((n, c) => n + c.frames, 0), drops: cap.reduce((n, c) => n + c.droppedByKernel + c.droppedByInterface, 0) } : undefined,
      modems: { portsUp: this.portsUp, portsTotal: this.modems.portsTotal },
      outbox: { pending: ob.pending, dropped: Object.values(ob.dropped).reduce((a, b) => a + b, 0) },
      disk,
      memory: { rssBytes: process.memoryUsage.rss() },
      mqtt: mq ? { reconnects: mq.reconnects, published: mq.published } : undefined,
    }));
    this.stats.events--; // a heartbeat is not an event
  }

  private startTimers(): void {
    const every = (ms: number, fn: () => unknown) => {
      const t = setInterval(() => {
        Promise.resolve(fn()).catch((e: unknown) => this.log.error({ err: describeError(e) }, 'periodic task failed'));
      }, ms);
      this.timers.push(t);
    };
    every(this.opts.findingsIntervalMs ?? this.config.capture.reportIntervalS * 1000, () => this.flushFindings());
    every(30_000, () => this.checkClock());
    every(this.config.heartbeat.intervalS * 1000, () => this.heartbeat());
    every(this.opts.retentionIntervalMs ?? 600_000, () => this.store.retain());
    const watchdogUs = Number(process.env.WATCHDOG_USEC ?? 0);
    if (watchdogUs > 0) every(Math.max(1000, watchdogUs / 2000), () => sdNotify('WATCHDOG=1'));
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    sdNotify('STOPPING=1');
    for (const t of this.timers) clearInterval(t);
    for (const c of this.captures) c.stop();
    await this.modems.stop();
    try {
      this.flushFindings();
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'last findings could not be stored');
    }
    try {
      this.evidence.close(); // hashes the open evidence files; their events go to the outbox
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'evidence files could not be closed');
    }
    await this.reporter?.stop();
    this.store.close();
    this.log.info('probe stopped');
  }
}
