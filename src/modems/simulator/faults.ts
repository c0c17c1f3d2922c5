/**
 * Fault switches of one simulated modem, settable at runtime (DESIGN.md §7: "late OK, URCs
 * mid-response, CME errors, silence, unplug"; at-commands.md §6 items 3, 5, 6, 10).
 *
 *   command ──► silence?  ── yes ──► nothing at all (a hung module, §3.9)
 *        │
 *        ▼ answer segments  [\r\nINFO\r\n] [\r\nOK\r\n]
 *        ├─ urc-storm          URCs between segments and after OK (§3.3, §1.10 +CLCC burst)
 *        ├─ late-ok            final result held back delayMs (MM's "late OK" FIXME, §1.1)
 *        ├─ unplug-mid-command first part sent, then the link is pulled (§4 DisconnectedError)
 *        └─ garbage            random bytes between lines, or anywhere (baud mismatch, §3.6)
 *   cme-errors: SIM commands fail with +CME ERROR (default 14, SIM busy, §3.4/§6 item 6)
 *   no-sim:     the slot behaves as empty (+CME ERROR: 10)
 *
 * Each switch is `true` or an options object; `times` makes it switch itself off after that many
 * commands (e.g. one late OK, then normal answers so a client can resynchronise).
 */
import type { Rng } from './random.js';
import { renderUrc, type Segment } from './render.js';

export type FaultName = 'silence' | 'garbage' | 'late-ok' | 'urc-storm' | 'unplug-mid-command' | 'cme-errors' | 'no-sim';

export const FAULT_NAMES: readonly FaultName[] = ['silence', 'garbage', 'late-ok', 'urc-storm', 'unplug-mid-command', 'cme-errors', 'no-sim'];

interface Counted {
  /** Commands the fault applies to before it switches itself off; default: until cleared. */
  times?: number;
}

export interface GarbageOptions extends Counted {
  /** Bursts per line boundary ('between-lines') or garbage bytes per output byte ('anywhere'). 0..1, default 0.5 / 0.05. */
  ratio?: number;
  /** 'between-lines' keeps every line intact (a client can still parse); 'anywhere' may break tokens. */
  mode?: 'between-lines' | 'anywhere';
}

export interface FaultSwitches {
  silence?: boolean | Counted;
  garbage?: boolean | GarbageOptions;
  /** delayMs: when the final result comes, default 5000 (longer than the 3 s most commands get, §1.6). */
  'late-ok'?: boolean | (Counted & { delayMs?: number });
  /** count: URCs per answer, default 12. */
  'urc-storm'?: boolean | (Counted & { count?: number });
  /** afterFraction: share of the answer's bytes sent before the link goes, default 0.5. */
  'unplug-mid-command'?: boolean | (Counted & { afterFraction?: number });
  /** code: the +CME ERROR number, default 14 (SIM busy); SMS commands get +CMS ERROR 300 + code. */
  'cme-errors'?: boolean | (Counted & { code?: number });
  'no-sim'?: boolean;
}

/** A list of names is shorthand for `{ name: true, … }`. */
export type FaultInput = FaultSwitches | readonly FaultName[];

type Options = Counted & Record<string, unknown>;

/** Options of one switch as it was set, with typed getters. */
export class FaultOptions {
  constructor(private readonly o: Options) {}

  num(key: string, fallback: number): number {
    const v = this.o[key];
    return typeof v === 'number' ? v : fallback;
  }

  text(key: string, fallback: string): string {
    const v = this.o[key];
    return typeof v === 'string' ? v : fallback;
  }
}

export class FaultState {
  private readonly on = new Map<FaultName, Options>();

  constructor(input?: FaultInput) {
    if (input) this.set(input);
  }

  /** Replace every switch. */
  set(input: FaultInput): void {
    this.on.clear();
    this.merge(input);
  }

  /** Turn the given switches on (options object) or off (`false`), leaving the others alone. */
  merge(input: FaultInput): void {
    const switches: FaultSwitches = Array.isArray(input)
      ? Object.fromEntries((input as readonly FaultName[]).map((n) => [n, true]))
      : (input as FaultSwitches);
    for (const name of FAULT_NAMES) {
      if (!(name in switches)) continue;
      const v: unknown = switches[name];
      if (v === false || v === undefined) this.on.delete(name);
      else this.on.set(name, v === true ? {} : { ...(v as Options) });
    }
  }

  clear(): void {
    this.on.clear();
  }

  active(name: FaultName): boolean {
    return this.on.has(name);
  }

  /**
   * The switch's options when it is on (undefined when off), counting one use against `times`.
   * Read options from the returned object: the last use removes the switch.
   */
  consume(name: FaultName): FaultOptions | undefined {
    const o = this.on.get(name);
    if (!o) return undefined;
    if (o.times !== undefined) {
      o.times -= 1;
      if (o.times <= 0) this.on.delete(name);
    }
    return new FaultOptions(o);
  }

  /** Options of a switch that is on, without counting a use. */
  peek(name: FaultName): FaultOptions | undefined {
    const o = this.on.get(name);
    return o ? new FaultOptions(o) : undefined;
  }

  names(): FaultName[] {
    return [...this.on.keys()];
  }
}

/** Bytes that look like line noise: high bytes and punctuation, never CR or LF. */
function garbageBytes(rng: Rng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(rng.chance(0.6) ? rng.int(0x80, 0xff) : rng.pick([0x00, 0x07, 0x1b, 0x3f, 0x7e, 0x7f, 0x2a, 0x23]));
  return out;
}

/**
 * Interleave garbage into an output chunk. 'between-lines' puts 1–4 byte bursts where a line has
 * ended and the next begins (`…\r\n<noise>\r\nOK\r\n`), so every real line stays intact, as noise
 * on an idle line would; 'anywhere' sprinkles single bytes between any two bytes.
 */
export function withGarbage(chunk: Buffer, rng: Rng, mode: 'between-lines' | 'anywhere', ratio: number): Buffer {
  const out: number[] = [];
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i] ?? 0;
    const boundary = byte === 0x0d && (i === 0 || chunk[i - 1] === 0x0a);
    if (mode === 'between-lines' && boundary && rng.chance(ratio)) out.push(...garbageBytes(rng, rng.int(1, 4)));
    if (mode === 'anywhere' && rng.chance(ratio)) out.push(...garbageBytes(rng, 1));
    out.push(byte);
  }
  return Buffer.from(out);
}

export interface Step {
  delayMs: number;
  text?: string;
  /** Garbage options when the 'garbage' fault applies to this answer. */
  garble?: FaultOptions | undefined;
  /** The final result code (what 'late-ok' holds back). */
  final?: boolean;
  unplug?: boolean;
}

/**
 * The answer's segments as timed steps, with the faults that are on: URC storm, late OK,
 * unplug mid-command (garbage is applied when the bytes are sent).
 */
export function applyFaults(segments: Segment[], delay: number, faults: FaultState, rng: Rng, stormUrcs: readonly string[], urcEol: string): Step[] {
  const garble = faults.consume('garbage');
  let steps: Step[] = segments.map((s) => ({ delayMs: 0, text: s.text, garble, final: s.final === true }));
  const storm = faults.consume('urc-storm');
  if (storm) {
    // URCs before the answer, between its lines and after the final result (§3.3, §1.10),
    // never between a +CMGL/+CMGR header and its PDU.
    const count = storm.num('count', 12);
    const after = new Map<number, Step[]>();
    for (let k = 0; k < count; k++) {
      let slot = rng.int(-1, segments.length - 1);
      while (slot >= 0 && segments[slot]?.glued) slot++;
      const urc = { delayMs: 0, text: renderUrc([rng.pick(stormUrcs)], urcEol), garble };
      after.set(slot, [...(after.get(slot) ?? []), urc]);
    }
    steps = [...(after.get(-1) ?? []), ...steps.flatMap((st, i) => [st, ...(after.get(i) ?? [])])];
  }
  const first = steps[0];
  if (first) first.delayMs = delay;
  const late = faults.consume('late-ok');
  if (late) {
    // The final result comes after the client has given up (MM's "late OK" FIXME, §1.1).
    const fin = steps.find((st) => st.final);
    if (fin) fin.delayMs += late.num('delayMs', 5000);
  }
  const unplug = faults.consume('unplug-mid-command');
  if (unplug) {
    const all = steps.map((st) => st.text ?? '').join('');
    const cut = Math.max(1, Math.floor(all.length * unplug.num('afterFraction', 0.5)));
    return [{ delayMs: delay, text: all.slice(0, cut), garble }, { delayMs: 0, unplug: true }];
  }
  return steps;
}
