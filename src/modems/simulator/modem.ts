/**
 * SimulatedModem: an AT interpreter with the state of one module and its SIM. Pure: bytes in
 * through input(), bytes out through onOutput() listeners, timers only for delays. The PTY
 * (pty.ts) and the tests are two ways of wiring it.
 *
 *   input(bytes) ─► echo (ATE1, §3.1) ─► line on CR ─► queue ─► splitCommandLine ─► handlers
 *                                                                     │ Reply[]
 *   onOutput ◄── garbage? ◄── play(steps) ◄── faults ◄── renderReplies ┘
 *       ▲                                    (late OK, URC storm, unplug, silence)
 *       └── URCs: ring(), deliverSms() (+CMTI), setRegistration() (+CREG), Huawei ^RSSI noise,
 *           CENG=2 / CCED=1 pages, +SIMDATA markers — held back while a command is answered.
 *
 * Destructive commands are carried out as a real module would and listed in `attempts`; reads
 * that change state (REC UNREAD → REC READ) are listed in `sideEffects` (at-commands.md §5, §3.5).
 */
import { CELL_COMMANDS } from './cells.js';
import { COMMON_COMMANDS, basicCommand } from './commands.js';
import { cmeError, cmsError, error, ok, splitCommandLine, type CommandContext, type Handler, type ParsedCommand } from './context.js';
import { applyFaults, FaultState, withGarbage, type FaultInput, type FaultOptions, type Step } from './faults.js';
import { NETWORK_COMMANDS } from './network-commands.js';
import { defaultSettings, getProfile, type VendorProfile } from './profiles.js';
import { Rng } from './random.js';
import { renderReplies, renderUrc, stopsLine } from './render.js';
import { SMS_COMMANDS } from './sms-commands.js';
import { cellPageUrcs, huaweiNoiseLine, registrationUrcs, ringLines, storeIncoming, type IncomingSms } from './urcs.js';
import type { AttemptRecord, ModemSettings, ModemState, ProfileId, Reply, SideEffectRecord, SimCard, StoredSms } from './types.js';

const HANDLERS: Record<string, Handler> = { ...COMMON_COMMANDS, ...NETWORK_COMMANDS, ...CELL_COMMANDS, ...SMS_COMMANDS };

export interface SimulatedModemOptions {
  profile: ProfileId | VendorProfile;
  state: ModemState;
  /** Seeds garbage bytes and the noise order. */
  seed?: number;
  faults?: FaultInput;
  /** ms before each answer; 0 (default) answers synchronously inside input(). */
  latencyMs?: number;
  /** ms an AT+COPS=? scan takes (real: 20–180 s, §6 item 5); default 3000. */
  copsScanMs?: number;
  /** Huawei ^RSSI/^MODE period (ms), default 2000. */
  noiseIntervalMs?: number;
  /** CENG=2 / CCED=1 page period (ms), default 5000 (CCED: "every 5 s", §2.3). */
  cellUrcIntervalMs?: number;
}

export class SimulatedModem {
  readonly profile: VendorProfile;
  readonly state: ModemState;
  readonly settings: ModemSettings;
  readonly faults: FaultState;
  /** Destructive / state-changing commands received (a read-only dump leaves this empty). */
  readonly attempts: AttemptRecord[] = [];
  readonly sideEffects: SideEffectRecord[] = [];
  /** Sub-commands no handler knew (answered ERROR / +CME ERROR). */
  readonly unknownCommands: string[] = [];
  /** Every command line received, as received (CR removed). */
  readonly received: string[] = [];

  private readonly outputListeners = new Set<(bytes: Buffer) => void>();
  private readonly unplugListeners = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rng: Rng;
  private readonly opts: Required<Omit<SimulatedModemOptions, 'profile' | 'state' | 'faults' | 'seed'>>;
  private lineBuf = '';
  private queue: string[] = [];
  private busy = false;
  private heldUrcs: string[] = [];
  private prompt: { handler: (body: string, cancelled: boolean) => Reply; body: string } | undefined;
  private pendingPrompt: ((body: string, cancelled: boolean) => Reply) | undefined;
  private unplugged = false;
  private powered = false;
  private seq = 0;
  private ringingNumber: string | undefined;
  private noiseTurn = 0;

  constructor(options: SimulatedModemOptions) {
    this.profile = typeof options.profile === 'string' ? getProfile(options.profile) : options.profile;
    this.state = options.state;
    this.settings = defaultSettings(this.profile);
    this.faults = new FaultState(options.faults);
    this.rng = new Rng(options.seed ?? 1).fork(`modem:${this.state.imei}`);
    this.opts = {
      latencyMs: options.latencyMs ?? 0, copsScanMs: options.copsScanMs ?? 3000,
      noiseIntervalMs: options.noiseIntervalMs ?? 2000, cellUrcIntervalMs: options.cellUrcIntervalMs ?? 5000,
    };
  }

  onOutput(listener: (bytes: Buffer) => void): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  /** The 'unplug-mid-command' fault fired: the link should go away (pty.ts kills socat). */
  onUnplug(listener: () => void): () => void {
    this.unplugListeners.add(listener);
    return () => this.unplugListeners.delete(listener);
  }

  get isUnplugged(): boolean {
    return this.unplugged;
  }

  setFaults(input: FaultInput): void {
    this.faults.set(input);
  }

  /** Start periodic URCs (Huawei noise, CENG/CCED pages); optionally send the boot burst (§3.3). */
  powerOn(opts: { bootUrcs?: boolean } = {}): void {
    if (this.powered) return;
    this.powered = true;
    if (this.profile.huaweiNoise) this.every(this.opts.noiseIntervalMs, () => this.huaweiNoise());
    if (this.profile.cellDialect === 'simcom-ceng' || this.profile.cellDialect === 'wavecom-cced') {
      this.every(this.opts.cellUrcIntervalMs, () => this.cellPage());
    }
    if (opts.bootUrcs) {
      const noSim = !this.state.sim || this.faults.active('no-sim');
      const lines = this.profile.bootUrcs.map((l) => (l === '+CPIN: READY' && noSim ? '+CPIN: NOT INSERTED' : l));
      for (const l of lines) this.injectUrc(l);
      if (this.state.remoteSim) this.injectUrc('+SIMRESET');
    }
  }

  /**
   * Power lost (USB unplug, end of a test): timers stop, queues and session settings are
   * forgotten, as a module that comes back up has forgotten CMGF/CSCS/CNMI (§4 "On reopen, rerun
   * the whole init"). State that lives on the SIM or in NV (messages, IMEI) stays.
   */
  powerOff(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.powered = false;
    this.unplugged = false;
    this.busy = false;
    this.queue = [];
    this.lineBuf = '';
    this.prompt = undefined;
    this.heldUrcs = [];
    this.ringingNumber = undefined;
    Object.assign(this.settings, defaultSettings(this.profile));
  }

  /** Same as powerOff(): nothing keeps running. */
  dispose(): void {
    this.powerOff();
  }

  // ---------------------------------------------------------------- bytes in

  input(bytes: Buffer): void {
    if (!this.powered) this.powerOn();
    let echo: number[] = [];
    const flushEcho = (): void => {
      // A hung module (silence) does not echo either.
      if (echo.length && this.settings.echo && !this.faults.active('silence')) this.emit(Buffer.from(echo));
      echo = [];
    };
    for (const byte of bytes) {
      if (this.unplugged) return;
      echo.push(byte);
      if (this.prompt) {
        if (byte === 0x1a || byte === 0x1b) {
          flushEcho();
          const { handler, body } = this.prompt;
          this.prompt = undefined;
          this.seq++;
          this.answer([handler(body, byte === 0x1b)]);
        } else this.prompt.body += String.fromCharCode(byte);
        continue;
      }
      if (byte === 0x0d) {
        flushEcho();
        this.queue.push(this.lineBuf);
        this.lineBuf = '';
        this.drain();
      } else if (byte === 0x08) this.lineBuf = this.lineBuf.slice(0, -1);
      else if (byte !== 0x0a) this.lineBuf += String.fromCharCode(byte);
    }
    flushEcho();
  }

  private drain(): void {
    while (!this.busy && !this.prompt && !this.unplugged && this.queue.length) this.execute(this.queue.shift() ?? '');
  }

  private execute(line: string): void {
    if (line.trim() === '') return;
    this.received.push(line);
    if (this.faults.consume('silence')) return;
    const cmds = splitCommandLine(line);
    if (!cmds) {
      // Lines without the AT prefix are ignored by modules; a malformed AT line is an error.
      if (/^\s*AT/i.test(line)) this.answer([error()]);
      return;
    }
    if (cmds.length === 0) return this.answer([ok()]);
    const replies: Reply[] = [];
    for (const cmd of cmds) {
      this.seq++;
      const reply = this.run(cmd);
      replies.push(reply);
      if (stopsLine(reply.final)) break;
    }
    this.answer(replies);
  }

  private run(cmd: ParsedCommand): Reply {
    const isBasic = !/^[+^$%#*]/.test(cmd.name);
    const handler = isBasic ? basicCommand : HANDLERS[cmd.name];
    if (!handler) {
      this.unknownCommands.push(cmd.text);
      return cmeError(this.settings, 100);
    }
    return handler(cmd, this.context(cmd));
  }

  private context(cmd: ParsedCommand): CommandContext {
    const seq = this.seq;
    return {
      profile: this.profile, state: this.state, settings: this.settings, faults: this.faults,
      timing: { copsScanMs: this.opts.copsScanMs }, ringingNumber: this.ringingNumber,
      sim: (kind = 'sim') => this.simFor(kind),
      attempt: (kind, applied, detail) => this.attempts.push({ seq, command: cmd.text, kind, applied, ...(detail ? { detail } : {}) }),
      sideEffect: (detail) => this.sideEffects.push({ seq, command: cmd.text, detail }),
      urc: (line) => this.heldUrcs.push(renderUrc([line], this.profile.urcEol)),
      expectPromptBody: (handler) => {
        this.pendingPrompt = handler;
      },
      resetSettings: () => Object.assign(this.settings, defaultSettings(this.profile)),
    };
  }

  /** The SIM for a SIM command, or the error a real module gives (§1.2 codes 10/11/14). */
  private simFor(kind: 'sim' | 'sms'): SimCard | Reply {
    const sms = kind === 'sms';
    if (!this.state.sim || this.faults.active('no-sim')) return sms ? cmsError(this.settings, 310) : cmeError(this.settings, 10);
    const cme = this.faults.consume('cme-errors');
    if (cme) {
      const code = cme.num('code', 14);
      // The fault always shows the numeric form, even with CMEE=0.
      return { lines: [], final: sms ? { kind: 'cms', code: 300 + code } : { kind: 'cme', code } };
    }
    if (this.state.sim.pinLocked) return sms ? cmsError(this.settings, 311) : cmeError(this.settings, 11);
    // A remote SIM answers through the SIM bank: the module asks for APDUs (goip-protocols.md §1.7).
    if (this.state.remoteSim) this.emitOrHold(renderUrc(['+SIMDATA: "A0A40000023F00"'], this.profile.urcEol));
    return this.state.sim;
  }

  // ---------------------------------------------------------------- bytes out

  private answer(replies: Reply[]): void {
    // After "> " the next bytes are the message body, up to Ctrl-Z (send) or ESC (cancel).
    const last = replies[replies.length - 1];
    if (last?.final.kind === 'prompt') this.prompt = { handler: this.pendingPrompt ?? (() => error()), body: '' };
    this.pendingPrompt = undefined;
    const segments = renderReplies(replies, this.settings.verbose, this.profile.eol);
    const delay = this.opts.latencyMs + Math.max(0, ...replies.map((r) => r.delayMs ?? 0));
    const steps = applyFaults(segments, delay, this.faults, this.rng, this.profile.stormUrcs, this.profile.urcEol);
    const after = this.heldUrcs.splice(0);
    for (const u of after) steps.push({ delayMs: 0, text: u });
    this.busy = true;
    this.play(steps, () => {
      this.busy = false;
      for (const u of this.heldUrcs.splice(0)) this.emit(u);
      this.drain();
    });
  }

  private play(steps: Step[], done: () => void): void {
    const next = (i: number): void => {
      if (this.unplugged) return;
      const st = steps[i];
      if (!st) return done();
      const run = (): void => {
        if (this.unplugged) return;
        if (st.unplug) return this.pullPlug();
        if (st.text) this.emit(st.text, st.garble);
        next(i + 1);
      };
      if (st.delayMs > 0) this.after(st.delayMs, run);
      else run();
    };
    next(0);
  }

  /** Garbage applies to this answer's steps (options captured when counted) and, while on, to echo and URCs. */
  private emit(text: string | Buffer, garble: FaultOptions | undefined = this.faults.peek('garbage')): void {
    if (this.unplugged) return;
    let bytes: Buffer = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    if (garble) {
      const mode = garble.text('mode', 'between-lines') === 'anywhere' ? 'anywhere' : 'between-lines';
      bytes = withGarbage(bytes, this.rng, mode, garble.num('ratio', mode === 'anywhere' ? 0.05 : 0.5));
    }
    for (const l of this.outputListeners) l(bytes);
  }

  /** Send now when idle; hold until the answer is complete when a command is being answered. */
  private emitOrHold(framed: string): void {
    if (this.busy) this.heldUrcs.push(framed);
    else this.emit(framed);
  }

  private pullPlug(): void {
    this.unplugged = true;
    this.queue = [];
    this.prompt = undefined;
    for (const l of this.unplugListeners) l();
  }

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  /** A self-rearming timer that does not keep the process alive. */
  private every(ms: number, fn: () => void): void {
    const tick = (): void => {
      if (!this.unplugged) fn();
      this.every(ms, fn);
    };
    this.after(ms, tick).unref();
  }

  // ---------------------------------------------------------------- URC injection (for `listen` tests)

  /** Send URC lines (framed with the profile's URC line ending). */
  injectUrc(...lines: string[]): void {
    this.emitOrHold(renderUrc(lines, this.profile.urcEol));
  }

  /** An incoming call: RING, and +CLIP when AT+CLIP=1 (§1.10). */
  ring(number = '+8613800138000'): void {
    this.ringingNumber = number;
    this.injectUrc(...ringLines(this.settings, number));
  }

  /** The caller gave up: the module says NO CARRIER. */
  endCall(): void {
    this.ringingNumber = undefined;
    this.injectUrc('NO CARRIER');
  }

  /** A message arrives: stored on the SIM (one slot per part), each announced with +CMTI (§1.8). */
  deliverSms(msg: IncomingSms): StoredSms[] {
    const sim = this.state.sim;
    if (!sim || this.faults.active('no-sim')) return [];
    const stored = storeIncoming(sim, this.profile, this.rng, msg);
    for (const s of stored) this.injectUrc(`+CMTI: "SM",${s.index}`);
    return stored;
  }

  /** Registration changes; +CREG/+CGREG/+CEREG URCs where AT+CxREG=1/2 asked for them (§1.3). */
  setRegistration(stat: number): void {
    this.state.registration = stat;
    for (const line of registrationUrcs(this.settings, this.state, this.faults, this.profile)) this.injectUrc(line);
  }

  /** A remote-SIM APDU exchange marker (only on modems with remoteSim). */
  simData(apduHex = 'A0B000000A'): void {
    if (this.state.remoteSim) this.injectUrc(`+SIMDATA: "${apduHex}"`);
  }

  private huaweiNoise(): void {
    // Never in the middle of an answer (only the urc-storm fault does that).
    if (this.settings.curc !== 1 || this.busy) return;
    this.injectUrc(huaweiNoiseLine(this.state, ++this.noiseTurn));
  }

  private cellPage(): void {
    if (this.busy) return;
    for (const block of cellPageUrcs(this.context({ name: '', type: 'exec', args: [], value: '', text: '(periodic)' }))) this.injectUrc(...block);
  }
}
