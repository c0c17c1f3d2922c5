/**
 * SMS storage and phonebook commands (27.005 / 27.007), as a read-only dump meets them.
 *
 *   AT+CMGF=0 ; AT+CMGL=4        ──► +CMGL: <idx>,<stat>,,<len>\r\n<PDU> …          (§1.8)
 *   AT+CMGF=1 ; AT+CMGL="ALL"    ──► +CMGL: <idx>,"REC READ","<oa>",,"<scts>"\r\n<text>
 *   AT+CMGR=<i>                  ──► +CMGR: <stat>,,<len>\r\n<PDU>                    (§1.8 Gammu 02.dump)
 *   AT+CPMS? / AT+CPMS="SM"      ──► +CPMS: "SM",3,50,"SM",3,50,"SM",3,50              (§1.8)
 *   AT+CPBS / AT+CPBR            ──► phonebook
 *   AT+CMGD / +CMGW / +CMGS / +CMSS / +CPBW / +CSCA=  ──► done as a module would, and recorded
 *
 * Reading REC UNREAD marks it REC READ (a side effect, recorded), unless the profile takes the
 * SIMCom/Quectel <mode>=1 argument (`AT+CMGL=4,1`), which leaves the status alone (inference
 * from the SIM800/M35 manuals; the reference does not cover it).
 */
import { charsetText, cmsError, error, intArg, isReply, ok, ucs2Hex, unquote, type CommandContext, type Handler, type ParsedCommand } from './context.js';
import type { Reply, SimCard, SmsStatus, StoredSms } from './types.js';

export const STAT_TEXT = ['REC UNREAD', 'REC READ', 'STO UNSENT', 'STO SENT'] as const;
const STORAGES = ['SM', 'ME'];

/** Messages of the selected storage ("ME" is kept empty: pool SIMs store on the SIM). */
function storage(ctx: CommandContext, sim: SimCard): StoredSms[] {
  return ctx.settings.smsStorage === 'SM' ? sim.sms : [];
}

/** Lowest free index at or above the profile's base (0 on Huawei, §3.5). */
export function freeIndex(sim: SimCard, base: number): number | undefined {
  const used = new Set(sim.sms.map((m) => m.index));
  for (let i = base; i < base + sim.smsCapacity; i++) if (!used.has(i)) return i;
  return undefined;
}

function textBody(ctx: CommandContext, m: StoredSms): string {
  // A module in text mode cannot show Chinese in IRA/GSM: it prints the UCS-2 hex (SIM800; inference).
  if (m.ucs2 && ctx.settings.cscs.toUpperCase() !== 'UCS2') return ucs2Hex(m.text);
  return charsetText(ctx.settings, m.text);
}

function header(ctx: CommandContext, verb: '+CMGL' | '+CMGR', m: StoredSms): string {
  if (ctx.settings.cmgf === 0) return verb === '+CMGL' ? `+CMGL: ${m.index},${m.status},,${m.tpduLength}` : `+CMGR: ${m.status},,${m.tpduLength}`;
  const fields = `"${STAT_TEXT[m.status]}","${charsetText(ctx.settings, m.sender)}",,"${m.timestamp}"`;
  return verb === '+CMGL' ? `+CMGL: ${m.index},${fields}` : `+CMGR: ${fields}`;
}

/** Unread → read after a listing or a read, recorded as a side effect. */
function markRead(ctx: CommandContext, cmd: ParsedCommand, read: StoredSms[], keep: boolean): void {
  const unread = read.filter((m) => m.status === 0);
  if (keep || unread.length === 0) return;
  for (const m of unread) m.status = 1;
  ctx.sideEffect(`REC UNREAD → REC READ: ${unread.map((m) => m.index).join(',')} (${cmd.text})`);
}

/** The optional <mode> argument (0 normal, 1 keep status) where the profile knows it. */
function readMode(ctx: CommandContext, arg: string | undefined): number | 'bad' {
  if (arg === undefined) return 0;
  const m = intArg(arg);
  if (!ctx.profile.readModeParam || (m !== 0 && m !== 1)) return 'bad';
  return m;
}

const cmgl: Handler = (cmd, ctx) => {
  const pdu = ctx.settings.cmgf === 0;
  if (cmd.type === 'test') return ok([pdu ? '+CMGL: (0-4)' : '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")']);
  if (cmd.type !== 'set' && cmd.type !== 'exec') return error();
  const sim = ctx.sim('sms');
  if (isReply(sim)) return sim;
  const arg = cmd.args[0] ?? (pdu ? '0' : '"REC UNREAD"');
  let want: number | undefined;
  if (pdu) want = intArg(arg);
  else {
    const text = unquote(arg).toUpperCase();
    want = text === 'ALL' ? 4 : STAT_TEXT.indexOf(text as (typeof STAT_TEXT)[number]);
    if (!arg.startsWith('"')) want = undefined;
  }
  // PDU mode wants 0-4, text mode wants the quoted names (§3.5: CMGL=4 vs CMGL="ALL").
  if (want === undefined || want < 0 || want > 4) return cmsError(ctx.settings, pdu ? 304 : 305);
  const mode = readMode(ctx, cmd.args[1]);
  if (mode === 'bad') return cmsError(ctx.settings, pdu ? 304 : 305);
  const list = storage(ctx, sim).filter((m) => want === 4 || m.status === want).sort((a, b) => a.index - b.index);
  const lines = list.flatMap((m) => [header(ctx, '+CMGL', m), pdu ? m.pdu : textBody(ctx, m)]);
  markRead(ctx, cmd, list, mode === 1);
  return ok(lines);
};

const cmgr: Handler = (cmd, ctx) => {
  if (cmd.type === 'test') return ok();
  if (cmd.type !== 'set') return error();
  const sim = ctx.sim('sms');
  if (isReply(sim)) return sim;
  const index = intArg(cmd.args[0]);
  const mode = readMode(ctx, cmd.args[1]);
  if (index === undefined || mode === 'bad') return cmsError(ctx.settings, ctx.settings.cmgf === 0 ? 304 : 305);
  const m = storage(ctx, sim).find((x) => x.index === index);
  if (!m) return cmsError(ctx.settings, 321);
  const lines = [header(ctx, '+CMGR', m), ctx.settings.cmgf === 0 ? m.pdu : textBody(ctx, m)];
  markRead(ctx, cmd, [m], mode === 1);
  return ok(lines);
};

const cpms: Handler = (cmd, ctx) => {
  if (cmd.type === 'test') return ok(['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")']);
  const sim = ctx.sim('sms');
  if (isReply(sim)) return sim;
  const count = (mem: string): string => `${mem === 'SM' ? sim.sms.length : 0},${mem === 'SM' ? sim.smsCapacity : 100}`;
  if (cmd.type === 'read') {
    const m = ctx.settings.smsStorage;
    return ok([`+CPMS: "${m}",${count(m)},"${m}",${count(m)},"${m}",${count(m)}`]);
  }
  if (cmd.type !== 'set' || cmd.args.length === 0) return error();
  const mems = cmd.args.map((a) => unquote(a).toUpperCase());
  if (!mems.every((m) => STORAGES.includes(m))) return cmsError(ctx.settings, 302);
  // Selecting the storage is a session setting (re-assert it after a reset, §3.5).
  ctx.settings.smsStorage = mems[0] ?? 'SM';
  const m = ctx.settings.smsStorage;
  return ok([`+CPMS: ${count(m)},${count(m)},${count(m)}`]);
};

const cmgd: Handler = (cmd, ctx) => {
  const sim = ctx.sim('sms');
  if (isReply(sim)) return sim;
  if (cmd.type === 'test') {
    // smstools' check_memory_method: "+CMGD: (1,2,3),(0-4)" lists used indices (§3.5). Read-only.
    return ok([`+CMGD: (${sim.sms.map((m) => m.index).sort((a, b) => a - b).join(',')}),(0-4)`]);
  }
  if (cmd.type !== 'set') return error();
  const index = intArg(cmd.args[0]);
  const flag = cmd.args[1] === undefined ? 0 : intArg(cmd.args[1]);
  if (index === undefined || flag === undefined || flag > 4) return cmsError(ctx.settings, 321);
  const doomed = flag === 0
    ? sim.sms.filter((m) => m.index === index)
    : sim.sms.filter((m) => m.status === 1 || (flag >= 2 && m.status === 3) || (flag >= 3 && m.status === 2) || flag === 4);
  // A real module deletes; so does the simulator, but never silently.
  ctx.attempt('sms-delete', doomed.length > 0, `+CMGD=${cmd.args.join(',')} removes ${doomed.map((m) => m.index).join(',') || 'nothing'}`);
  sim.sms = sim.sms.filter((m) => !doomed.includes(m));
  return ok();
};

function promptCommand(kind: 'sms-write' | 'sms-send', verb: '+CMGW' | '+CMGS'): Handler {
  return (cmd, ctx) => {
    if (cmd.type === 'test') return ok();
    const sim = ctx.sim('sms');
    if (isReply(sim)) return sim;
    ctx.expectPromptBody((body, cancelled) => {
      ctx.attempt(kind, !cancelled, `${cmd.text}${cancelled ? ' (cancelled with ESC)' : ''}`);
      if (cancelled) return ok();
      if (verb === '+CMGS') return ok([`+CMGS: ${(sim.sms.length * 7 + 13) % 256}`]);
      const index = freeIndex(sim, ctx.profile.smsIndexBase);
      if (index === undefined) return cmsError(ctx.settings, 322);
      const status: SmsStatus = 2;
      sim.sms.push({ index, status, pdu: body.trim(), tpduLength: Math.floor(body.trim().length / 2), sender: '', timestamp: '', text: '', ucs2: false });
      return ok([`+CMGW: ${index}`]);
    });
    return { lines: [], final: { kind: 'prompt' } };
  };
}

const cmss: Handler = (cmd, ctx) => {
  ctx.attempt('sms-send', true, cmd.text);
  const sim = ctx.sim('sms');
  return isReply(sim) ? sim : ok(['+CMSS: 42']);
};

const cmgf: Handler = (cmd, ctx) => {
  if (cmd.type === 'read') return ok([`+CMGF: ${ctx.settings.cmgf}`]);
  if (cmd.type === 'test') return ok(['+CMGF: (0,1)']);
  const n = cmd.type === 'exec' ? 0 : intArg(cmd.args[0]);
  if (n !== 0 && n !== 1) return error();
  ctx.settings.cmgf = n;
  return ok();
};

const csca: Handler = (cmd, ctx) => {
  if (cmd.type === 'test') return ok();
  const sim = ctx.sim('sms');
  if (isReply(sim)) return sim;
  if (cmd.type === 'read') return ok([`+CSCA: "${charsetText(ctx.settings, sim.smsc)}",145`]);
  if (cmd.type !== 'set') return error();
  // Writes EF_SMSP on the SIM.
  ctx.attempt('sim-write', true, `+CSCA=${cmd.args.join(',')}`);
  sim.smsc = unquote(cmd.args[0]);
  return ok();
};

// ---- phonebook

const cpbs: Handler = (cmd, ctx) => {
  if (cmd.type === 'test') return ok(['+CPBS: ("SM","ME","ON","FD","LD","MC","RC")']);
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  if (cmd.type === 'read') {
    const used = ctx.settings.phonebookStorage === 'SM' ? sim.phonebook.length : ctx.settings.phonebookStorage === 'ON' && sim.msisdn ? 1 : 0;
    return ok([`+CPBS: "${ctx.settings.phonebookStorage}",${used},${ctx.settings.phonebookStorage === 'SM' ? sim.phonebookCapacity : 10}`]);
  }
  if (cmd.type !== 'set') return error();
  const want = unquote(cmd.args[0]).toUpperCase();
  if (!['SM', 'ME', 'ON', 'FD', 'LD', 'MC', 'RC'].includes(want)) return error();
  ctx.settings.phonebookStorage = want;
  return ok();
};

function phonebookEntries(ctx: CommandContext, sim: SimCard): SimCard['phonebook'] {
  const s = ctx.settings.phonebookStorage;
  if (s === 'SM') return sim.phonebook;
  if (s === 'ON' && sim.msisdn) return [{ index: 1, number: sim.msisdn, type: 145, name: 'My Number' }];
  return [];
}

const cpbr: Handler = (cmd, ctx) => {
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  if (cmd.type === 'test') return ok([`+CPBR: (1-${sim.phonebookCapacity}),40,14`]);
  if (cmd.type !== 'set') return error();
  const from = intArg(cmd.args[0]);
  const to = cmd.args[1] === undefined ? from : intArg(cmd.args[1]);
  if (from === undefined || to === undefined || from < 1 || to < from) return error();
  const found = phonebookEntries(ctx, sim).filter((e) => e.index >= from && e.index <= to);
  return ok(found.map((e) => `+CPBR: ${e.index},"${charsetText(ctx.settings, e.number)}",${e.type},"${charsetText(ctx.settings, e.name)}"`));
};

const cpbw: Handler = (cmd, ctx): Reply => {
  if (cmd.type === 'test') return ok();
  const sim = ctx.sim();
  if (isReply(sim)) return sim;
  const index = intArg(cmd.args[0]);
  ctx.attempt('phonebook-write', index !== undefined, `+CPBW=${cmd.args.join(',')}`);
  if (index === undefined) return error();
  sim.phonebook = sim.phonebook.filter((e) => e.index !== index);
  if (cmd.args.length > 1) sim.phonebook.push({ index, number: unquote(cmd.args[1]), type: intArg(cmd.args[2]) ?? 129, name: unquote(cmd.args[3]) });
  return ok();
};

export const SMS_COMMANDS: Record<string, Handler> = {
  '+CMGF': cmgf,
  '+CMGL': cmgl,
  '+CMGR': cmgr,
  '+CPMS': cpms,
  '+CMGD': cmgd,
  '+CMGW': promptCommand('sms-write', '+CMGW'),
  '+CMGS': promptCommand('sms-send', '+CMGS'),
  '+CMSS': cmss,
  '+CSCA': csca,
  '+CNMI': (cmd, ctx) => {
    if (cmd.type === 'read') return ok([`+CNMI: ${ctx.settings.cnmi}`]);
    if (cmd.type === 'test') return ok(['+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)']);
    if (cmd.type === 'set') ctx.settings.cnmi = cmd.args.join(',');
    return ok();
  },
  '+CSMS': (cmd) => (cmd.type === 'read' ? ok(['+CSMS: 0,1,1,1']) : ok()),
  '+CSDH': (cmd) => (cmd.type === 'read' ? ok(['+CSDH: 0']) : ok()),
  '+CPBS': cpbs,
  '+CPBR': cpbr,
  '+CPBW': cpbw,
};
