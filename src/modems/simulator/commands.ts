/**
 * V.250 basics, identification and SIM commands, common to every profile (vendor strings come
 * from the profile).
 *
 *   E V Q X &C &D S Z &F &W I H A D          V.250 (echo §3.1, ATZ resets the session)
 *   +CGMI +CGMM +CGMR +CGSN +GCAP            identity (§1.1 probe, §5)
 *   +CPIN +CIMI +CNUM +CRSM <ICCID cmd>      SIM (§1.7; Wavecom +CPIN? without OK §2.3)
 *   +CSCS +CMEE +CFUN +CLCK +CPWD +CUSD …    session settings; state changers are recorded
 *
 * Destructive or state-changing commands are answered as a real module would and recorded via
 * ctx.attempt(): a read-only dump must leave that list empty.
 */
import { cmeError, error, intArg, isReply, ok, unquote, type CommandContext, type Handler, type ParsedCommand } from './context.js';
import { swapIccidNibbles } from './identity.js';
import type { Reply } from './types.js';

const CHARSETS = ['IRA', 'GSM', 'UCS2'];

/** S registers a module reports (V.250 defaults: S3 CR, S4 LF, S5 backspace). */
const S_DEFAULTS: Record<string, number> = { S0: 0, S3: 13, S4: 10, S5: 8, S7: 60, S8: 2, S10: 15 };

function basic(cmd: ParsedCommand, ctx: CommandContext): Reply {
  const v = cmd.value;
  switch (cmd.name) {
    case 'E':
      if (v !== '' && v !== '0' && v !== '1') return error();
      ctx.settings.echo = v === '1';
      return ok();
    case 'V':
      if (v !== '' && v !== '0' && v !== '1') return error();
      ctx.settings.verbose = v === '1';
      return ok();
    case 'Q':
      return v === '' || v === '0' ? ok() : error();
    case 'X': case '&C': case '&D': case 'L': case 'M': case 'H':
      return ok();
    case 'Z': case '&F':
      ctx.resetSettings();
      return ok();
    case '&W':
      // Saves the session profile to NV: not read-only.
      ctx.attempt('profile-save', true);
      return ok();
    case 'I':
      if (v !== '' && v !== '0') return error();
      return ok(ctx.profile.ati.map((l) => l.replace('{imei}', ctx.state.imei)));
    case 'A':
      ctx.attempt('call', ctx.ringingNumber !== undefined, 'answer');
      return ctx.ringingNumber !== undefined ? ok() : { lines: [], final: { kind: 'text', text: 'NO CARRIER' } };
    case 'D':
      ctx.attempt('call', true, `dial ${cmd.value}`);
      return ok();
    default:
      break;
  }
  if (/^S\d+$/.test(cmd.name)) {
    if (cmd.type === 'read') return ok([String(S_DEFAULTS[cmd.name] ?? 0).padStart(3, '0')]);
    return ok();
  }
  return error();
}

const identity =
  (line: (ctx: CommandContext) => string): Handler =>
  (cmd, ctx) =>
    cmd.type === 'exec' ? ok([line(ctx)]) : cmd.type === 'test' ? ok() : error();

function cpin(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'test') return ok();
  if (cmd.type === 'set') {
    const sim = ctx.state.sim;
    const locked = sim?.pinLocked === true;
    const right = sim !== undefined && unquote(cmd.args[0]) === sim.pin;
    // Entering a PIN spends one of the SIM's three tries: never part of a read-only dump.
    ctx.attempt('pin', locked && right, locked ? undefined : 'no PIN was asked for');
    if (!sim) return cmeError(ctx.settings, 10);
    if (!locked) return cmeError(ctx.settings, 3);
    if (!right) return cmeError(ctx.settings, 16);
    sim.pinLocked = false;
    return ok();
  }
  if (cmd.type !== 'read') return error();
  const sim = ctx.state.sim;
  if (sim?.pinLocked && !ctx.faults.active('no-sim')) {
    return { lines: ['+CPIN: SIM PIN'], final: ctx.profile.cpinNoOk ? { kind: 'none' } : { kind: 'ok' } };
  }
  const usable = ctx.sim();
  if (isReply(usable)) return usable;
  // Wavecom: "AT+CPIN? replies will never have an OK appended" (MM wavecom plugin, §2.3).
  return { lines: ['+CPIN: READY'], final: ctx.profile.cpinNoOk ? { kind: 'none' } : { kind: 'ok' } };
}

function cimi(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'test') return ok();
  if (cmd.type !== 'exec') return error();
  const sim = ctx.sim();
  return isReply(sim) ? sim : ok([sim.imsi]);
}

/** The profile's own ICCID command, in its answer format (§1.7; forms per vendor are inference). */
function iccid(cmd: ParsedCommand, ctx: CommandContext): Reply {
  const want = ctx.profile.iccidCommand;
  if (want !== cmd.name) return error();
  if (cmd.type === 'test') return ok();
  // Huawei asks with a read (AT^ICCID?); the others execute.
  if (cmd.type !== (want === '^ICCID' ? 'read' : 'exec')) return error();
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  const id = sim.iccid;
  switch (ctx.profile.id) {
    case 'quectel-ec25': return ok([`+QCCID: ${id}`]);
    case 'simcom-sim7600': return ok([`+ICCID: ${id}`]);
    case 'wavecom-q2403': return ok([`+CCID: "${id}"`]);
    // ^ICCID: raw EF_ICCID, nibbles swapped; mm_3gpp_parse_iccid() un-swaps a leading 98 (§1.7).
    case 'huawei-e173': return ok([`^ICCID: ${swapIccidNibbles(id)}`]);
    default: return ok([id]); // SIM800 AT+CCID, M35 AT+QCCID: the bare digits
  }
}

/** +CRSM: READ BINARY of EF_ICCID (2FE2 = 12258) answers; writes are recorded (§1.7). */
function crsm(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'test') return ok();
  if (cmd.type !== 'set') return error();
  const command = intArg(cmd.args[0]);
  const file = intArg(cmd.args[1]);
  if (command === undefined) return cmeError(ctx.settings, 4);
  // 214 UPDATE BINARY, 220 UPDATE RECORD, 44 UNBLOCK… : anything not a read changes the SIM.
  if (![176, 178, 192, 242].includes(command)) {
    ctx.attempt('sim-write', true, `+CRSM command ${command} on file ${file ?? '?'}`);
    const sim = ctx.sim();
    return isReply(sim) ? sim : ok(['+CRSM: 144,0,""']);
  }
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  if (command === 176 && file === 12258) return ok([`+CRSM: 144,0,"${swapIccidNibbles(sim.iccid)}"`]);
  return ok(['+CRSM: 106,130,""']); // 6A82: file not found
}

function cnum(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'test') return ok();
  if (cmd.type !== 'exec') return error();
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  // Most prepaid pool SIMs have no own number stored: only OK (§1.7 inference).
  return ok(sim.msisdn ? [`+CNUM: "","${sim.msisdn}",145`] : []);
}

function cscs(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'read') return ok([`+CSCS: "${ctx.settings.cscs}"`]);
  if (cmd.type === 'test') return ok([`+CSCS: (${CHARSETS.map((c) => `"${c}"`).join(',')})`]);
  if (cmd.type !== 'set') return error();
  // Quoted or not: "some modems puke if you include the quotes" (MM, §3.5).
  const want = unquote(cmd.args[0]).toUpperCase();
  if (!CHARSETS.includes(want)) return cmeError(ctx.settings, 4);
  ctx.settings.cscs = want;
  return ok();
}

function cmee(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'read') return ok([`+CMEE: ${ctx.settings.cmee}`]);
  if (cmd.type === 'test') return ok(['+CMEE: (0-2)']);
  const n = cmd.type === 'exec' ? 0 : intArg(cmd.args[0]);
  if (n !== 0 && n !== 1 && n !== 2) return error();
  ctx.settings.cmee = n;
  return ok();
}

function cfun(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'read') return ok(['+CFUN: 1']);
  if (cmd.type === 'test') return ok(['+CFUN: (0,1,4),(0-1)']);
  if (cmd.type !== 'set') return error();
  // Wavecom: plain CFUN=1 may reboot (§2.3); any CFUN changes the radio or resets: recorded.
  ctx.attempt('power', true, `+CFUN=${cmd.args.join(',')}`);
  return ok();
}

function clck(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'test') return ok(['+CLCK: ("SC","AO","OI","OX","AI","IR","AB","AG","AC","FD")']);
  if (cmd.type !== 'set') return error();
  const mode = intArg(cmd.args[1]);
  if (mode === 2) {
    const sim = ctx.sim();
    return isReply(sim) ? sim : ok([`+CLCK: ${unquote(cmd.args[0]).toUpperCase() === 'SC' && sim.pinLocked ? 1 : 0}`]);
  }
  ctx.attempt('pin', true, `+CLCK=${cmd.args.join(',')}`);
  const sim = ctx.sim();
  return isReply(sim) ? sim : ok();
}

function cusd(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type === 'read') return ok(['+CUSD: 0']);
  if (cmd.type === 'test') return ok(['+CUSD: (0,1,2)']);
  if (cmd.type !== 'set') return error();
  if (cmd.args.length < 2) return ok();
  // A USSD request reaches the operator's network: it leaves a trace there, so it is recorded.
  ctx.attempt('ussd', true, unquote(cmd.args[1]));
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  const answer = sim.msisdn ? `Your number is ${sim.msisdn.replace(/^\+86/, '')}` : 'Service not available';
  ctx.urc(`+CUSD: 0,"${answer}",15`);
  return ok();
}

function egmr(cmd: ParsedCommand, ctx: CommandContext): Reply {
  // MediaTek IMEI NV access. Conventions conflict (mode 1 vs 2 as "read", §5): every use is recorded.
  const mode = intArg(cmd.args[0]);
  const isWrite = cmd.type === 'set' && mode === 1 && cmd.args.length >= 3;
  ctx.attempt('imei-write', ctx.profile.egmr && isWrite, `+EGMR=${cmd.args.join(',')}`);
  if (!ctx.profile.egmr || cmd.type !== 'set') return error();
  if (isWrite) {
    ctx.state.imei = unquote(cmd.args[2]);
    return ok();
  }
  return mode === 2 && intArg(cmd.args[1]) === 7 ? ok([`+EGMR: "${ctx.state.imei}"`]) : error();
}

function simei(cmd: ParsedCommand, ctx: CommandContext): Reply {
  ctx.attempt('imei-write', false, `+SIMEI ${cmd.text}`);
  return error();
}

function simdata(cmd: ParsedCommand, ctx: CommandContext): Reply {
  // Remote-SIM modules relay APDUs with AT+SIMDATA="<hex>" (goip-protocols.md §1.7 [RE]).
  if (!ctx.state.remoteSim) return error();
  return cmd.type === 'test' ? ok(['+SIMDATA: (0-512)']) : ok();
}

function clcc(cmd: ParsedCommand, ctx: CommandContext): Reply {
  if (cmd.type !== 'exec') return cmd.type === 'test' ? ok() : error();
  const n = ctx.ringingNumber;
  // State 4 = incoming (ringing), §1.10 +CLCC vectors.
  return ok(n ? [`+CLCC: 1,1,4,0,0,"${n}",${n.startsWith('+') ? 145 : 129},""`] : []);
}

function simpleSetting(name: string, read: (ctx: CommandContext) => string, set?: (ctx: CommandContext, args: string[]) => boolean): Handler {
  return (cmd, ctx) => {
    if (cmd.type === 'read') return ok([`${name}: ${read(ctx)}`]);
    if (cmd.type === 'test') return ok();
    if (cmd.type === 'set') return !set || set(ctx, cmd.args) ? ok() : error();
    return error();
  };
}

export const COMMON_COMMANDS: Record<string, Handler> = {
  '+CGMI': identity((c) => c.profile.manufacturer),
  '+GMI': identity((c) => c.profile.manufacturer),
  '+CGMM': identity((c) => c.profile.model),
  '+GMM': identity((c) => c.profile.model),
  '+CGMR': identity((c) => c.profile.revision),
  '+GMR': identity((c) => c.profile.revision),
  '+CGSN': identity((c) => c.state.imei),
  '+GSN': identity((c) => c.state.imei),
  '+GCAP': identity((c) => c.profile.gcap),
  '+CPIN': cpin,
  '+CIMI': cimi,
  '+QCCID': iccid,
  '+CCID': iccid,
  '+CICCID': iccid,
  '^ICCID': iccid,
  '+CRSM': crsm,
  '+CNUM': cnum,
  '+CSCS': cscs,
  '+CMEE': cmee,
  '+CFUN': cfun,
  '+CLCK': clck,
  '+CPWD': (cmd, ctx) => {
    ctx.attempt('pin', true, cmd.text);
    const sim = ctx.sim();
    return isReply(sim) ? sim : ok();
  },
  '+CUSD': cusd,
  '+EGMR': egmr,
  '+SIMEI': simei,
  '+SIMDATA': simdata,
  '+CLCC': clcc,
  '+CPAS': (cmd, ctx) => (cmd.type === 'exec' ? ok([`+CPAS: ${ctx.ringingNumber ? 3 : 0}`]) : ok()),
  '+CLIP': simpleSetting('+CLIP', (c) => `${c.settings.clip ? 1 : 0},1`, (c, a) => {
    c.settings.clip = intArg(a[0]) === 1;
    return true;
  }),
  '+CRC': simpleSetting('+CRC', () => '0'),
  '+IPR': simpleSetting('+IPR', (c) => (c.profile.id === 'wavecom-q2403' ? '9600' : c.profile.id === 'simcom-sim800' || c.profile.id === 'quectel-m35' ? '0' : '115200'), (c, a) => {
    // Some modules keep the rate across power cycles: recorded.
    c.attempt('profile-save', true, `+IPR=${a.join(',')}`);
    return true;
  }),
};

export { basic as basicCommand };
