/**
 * Registration, operator and signal: +CREG/+CGREG/+CEREG, +COPS, +CSQ, +CESQ.
 *
 *   AT+CREG=2 ──► settings.cregN = 2
 *   AT+CREG?  ──► +CREG: 2,1,"5504","2B55"        (n, stat, lac, ci [,AcT])   §1.3
 *   setRegistration(5) ──► URC +CREG: 5,"5504","2B55"   (the URC form drops n)  §1.3
 *   AT+COPS=3,2;+COPS? ──► +COPS: 0,2,"46000",7                                §1.4, §1.11
 *
 * Lac/ci are hex; quoted on most modules, bare on Huawei (E160G vectors, §1.3).
 */
import { charsetText, error, intArg, ok, type Handler } from './context.js';
import { OPERATORS } from './identity.js';
import { RAT_ACT } from './network.js';
import type { ModemState, Rat, SimCard } from './types.js';
import type { FaultState } from './faults.js';
import type { VendorProfile } from './profiles.js';

/** The SIM as the radio sees it (the 'no-sim' fault empties the slot; no fault is consumed here). */
export function simInSlot(state: ModemState, faults: FaultState): SimCard | undefined {
  return faults.active('no-sim') ? undefined : state.sim;
}

/** 27.007 <stat> the module reports now: nothing without a usable SIM. */
export function effectiveStat(state: ModemState, faults: FaultState): number {
  const sim = simInSlot(state, faults);
  return sim && !sim.pinLocked ? state.registration : 0;
}

export function isRegistered(stat: number): boolean {
  return stat === 1 || stat === 5 || stat === 6 || stat === 7;
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

type RegCommand = '+CREG' | '+CGREG' | '+CEREG';

/**
 * The body after "+CREG: " for a solicited answer (n first) or a URC (no n), as 27.007 and the
 * MM vectors show them (§1.3).
 */
export function registrationBody(cmd: RegCommand, n: number, state: ModemState, faults: FaultState, profile: VendorProfile, urc: boolean): string {
  const serving = state.cells.serving;
  let stat = effectiveStat(state, faults);
  // +CEREG is about E-UTRAN: a module camped on 2G/3G is not EPS-registered.
  if (cmd === '+CEREG' && serving.rat !== 'LTE') stat = 0;
  const head = urc ? `${stat}` : `${n},${stat}`;
  if (n < 2 || !isRegistered(stat)) return head;
  const q = profile.cregQuoted ? '"' : '';
  const ciWidth = serving.rat === 'GSM' ? 4 : 8;
  const act = profile.cregAct ? `,${RAT_ACT[serving.rat]}` : '';
  return `${head},${q}${hex(serving.lac, 4)}${q},${q}${hex(serving.ci, ciWidth)}${q}${act}`;
}

function registration(cmd: RegCommand): Handler {
  const key = cmd === '+CREG' ? 'cregN' : cmd === '+CGREG' ? 'cgregN' : 'ceregN';
  return (c, ctx) => {
    if (cmd === '+CEREG' && !ctx.profile.rats.includes('LTE')) return error();
    if (c.type === 'test') return ok([`${cmd}: (0-2)`]);
    if (c.type === 'read') return ok([`${cmd}: ${registrationBody(cmd, ctx.settings[key], ctx.state, ctx.faults, ctx.profile, false)}`]);
    const n = c.type === 'exec' ? 0 : intArg(c.args[0]);
    if (n === undefined || n > 2) return error();
    ctx.settings[key] = n;
    return ok();
  };
}

function operatorName(numeric: string, format: 0 | 1 | 2): string {
  const op = Object.values(OPERATORS).find((o) => o.numeric === numeric);
  if (!op) return numeric;
  return format === 0 ? op.long : format === 1 ? op.short : op.numeric;
}

const cops: Handler = (cmd, ctx) => {
  const s = ctx.settings;
  if (cmd.type === 'read') {
    const stat = effectiveStat(ctx.state, ctx.faults);
    const sim = simInSlot(ctx.state, ctx.faults);
    if (!sim || !isRegistered(stat)) return ok(['+COPS: 0']);
    const name = charsetText(s, operatorName(sim.operator.numeric, s.copsFormat));
    const act = ctx.profile.copsAct ? `,${RAT_ACT[ctx.state.cells.serving.rat]}` : '';
    return ok([`+COPS: 0,${s.copsFormat},"${name}"${act}`]);
  }
  if (cmd.type === 'test') {
    // The scan (AT+COPS=?) takes minutes on real modules; MM allows 315 s (§1.6).
    const sim = simInSlot(ctx.state, ctx.faults);
    const rats: readonly Rat[] = ctx.profile.rats;
    const tuples = Object.values(OPERATORS)
      .filter((o) => o.numeric !== '46011' || rats.includes('LTE'))
      .map((o) => {
        const stat = sim?.operator.numeric === o.numeric ? 2 : o.numeric === '46011' ? 3 : 1;
        const act = o.numeric === '46011' ? 7 : RAT_ACT[rats.includes('LTE') ? 'LTE' : rats[0] ?? 'GSM'];
        return `(${stat},"${charsetText(s, o.long)}","${charsetText(s, o.short)}","${charsetText(s, o.numeric)}",${act})`;
      });
    return { ...ok([`+COPS: ${tuples.join(',')},,(0,1,2,3,4),(0,1,2)`]), delayMs: ctx.timing.copsScanMs };
  }
  if (cmd.type !== 'set') return error();
  const mode = intArg(cmd.args[0]);
  if (mode === 3) {
    const f = intArg(cmd.args[1]);
    if (f !== 0 && f !== 1 && f !== 2) return error();
    s.copsFormat = f;
    return ok();
  }
  if (mode === undefined || mode > 4) return error();
  // 0 automatic, 1 manual, 2 deregister, 4 manual/auto: the module really (de)registers.
  ctx.attempt('network', true, `+COPS=${cmd.args.join(',')}`);
  if (mode === 2) ctx.state.registration = 0;
  else if (ctx.state.sim) ctx.state.registration = 1;
  return ok();
};

const csq: Handler = (cmd, ctx) => {
  if (cmd.type === 'test') return ok(['+CSQ: (0-31,99),(0-7,99)']);
  if (cmd.type !== 'exec') return error();
  return ok([`+CSQ: ${ctx.state.csq.rssi},${ctx.state.csq.ber}`]);
};

/** +CESQ per RAT with 255/99 for the others; conversions of §1.5 run backwards. */
const cesq: Handler = (cmd, ctx) => {
  if (!ctx.profile.cesq) return error();
  if (cmd.type === 'test') return ok(['+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)']);
  if (cmd.type !== 'exec') return error();
  const c = ctx.state.cells.serving;
  const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Math.round(v)));
  if (c.rat === 'GSM') return ok([`+CESQ: ${clamp(c.levelDbm + 111, 0, 63)},99,255,255,255,255`]);
  if (c.rat === 'WCDMA') return ok([`+CESQ: 99,99,${clamp(c.levelDbm + 121, 0, 96)},${clamp((c.quality + 24.5) * 2, 0, 49)},255,255`]);
  return ok([`+CESQ: 99,99,255,255,${clamp((c.quality + 20) * 2, 0, 34)},${clamp(c.levelDbm + 141, 0, 97)}`]);
};

export const NETWORK_COMMANDS: Record<string, Handler> = {
  '+CREG': registration('+CREG'),
  '+CGREG': registration('+CGREG'),
  '+CEREG': registration('+CEREG'),
  '+COPS': cops,
  '+CSQ': csq,
  '+CESQ': cesq,
};

