/**
 * The GoIP "SMS server" protocol: clear text over UDP on any port (44444 is only the default of
 * DBL's goipcron), goip-protocols.md §1.1. Every datagram is read from its source's point of view,
 * so `device` is always `ctx.src` and `peer` is `ctx.dst`.
 *
 *   gateway ── req:N;id:..;pass:..;signal:..;...; ──► SMS server   keep-alive, 30 s per channel (§1.1.1)
 *   gateway ◄── reg:N;status:S; ───────────────────── SMS server   reply (`req:` in some servers, §1.1.2)
 *   gateway ── RECEIVE:recvid;id:..;password:..;.. ─► SMS server   events (§1.1.3)
 *   gateway ◄── RECEIVE recvid OK ─────────────────── SMS server   ack (or ERROR msg / DISABLE)
 *   gateway ◄── MSG / PASSWORD / SEND / DONE / ... ── SMS server   commands (§1.1.4)
 *   gateway ── PASSWORD / SEND / OK / WAIT / ... ───► SMS server   answers
 *
 * `looksLikeGoipSms` runs on every unclassified UDP datagram, so it only compares leading bytes.
 * `analyzeGoipSms` returns null for what is not this protocol and a Malformed (never a throw) for
 * what starts like it but cannot be read.
 */
import type {
  AnalyzerResult,
  GoipCommandObservation,
  GoipEventName,
  GoipEventObservation,
  GoipKeepAliveObservation,
  GoipKeepAliveReplyObservation,
  GoipSmsObservation,
  PacketContext,
} from './types.js';

const PROTOCOL = 'goip-sms';

const EVENT_NAMES: ReadonlySet<string> = new Set<GoipEventName>([
  'RECEIVE', 'DELIVER', 'STATE', 'RECORD', 'REMAIN', 'EXPIRY', 'HANGUP', 'CELLS',
  'CELLINFO', 'BCCH', 'CGATT', 'USSN', 'AT', 'GSM',
]);

/**
 * How to tell who sent a command word (§1.1.4). Both sides use the same words, so where the word
 * alone does not say, the argument count after `<sendid>` (or the shape of the one argument) does:
 * - bulk-password: `PASSWORD id` asks (gateway), `PASSWORD id pwd` answers (server).
 * - bulk-send:     `SEND id` asks (gateway), `SEND id telid num` answers (server).
 * - ussd:          `USSD id pwd <code of 0-9 * # +>` is the server's request; anything else is the
 *                  gateway's answer `USSD id <network text>` (the text may hold spaces).
 * - ussdexit:      `USSDEXIT id pwd` (server) / `USSDEXIT id` (gateway).
 * - password-only: the server sends `cmd id pwd`; the gateway echoes `cmd id <ok|value>`. One
 *                  argument is the gateway's when it is `ok` or has the getter's answer shape
 *                  (GETTER_ANSWER), else the server's password. A password that happens to have
 *                  the answer's shape (all digits for get_exp_time) is therefore read as an answer:
 *                  only pairing request and answer by sendid could tell, and that is the detector's job.
 * - setter:        `cmd id value pwd` (≥ 2 args, server) / `cmd id ok` (gateway).
 * - DONE is sent by both sides with the same shape (`DONE id`, server first, gateway echoes):
 *   one datagram cannot tell which, so it is reported as 'either' and is evidence of neither role.
 */
type CommandRule =
  | 'server' | 'gateway' | 'either' | 'gateway-text' | 'msg' | 'bulk-password' | 'bulk-send'
  | 'ussd' | 'ussdexit' | 'password-only' | 'setter' | 'event-ack';

const COMMAND_RULES: ReadonlyMap<string, CommandRule> = new Map<string, CommandRule>([
  ['MSG', 'msg'], ['DONE', 'either'], ['CF', 'server'], ['CW', 'server'],
  ['OK', 'gateway'], ['WAIT', 'gateway'], ['ERROR', 'gateway'], ['CFOK', 'gateway'],
  ['CFERROR', 'gateway-text'], ['USSDERROR', 'gateway-text'],
  ['PASSWORD', 'bulk-password'], ['SEND', 'bulk-send'], ['USSD', 'ussd'], ['USSDEXIT', 'ussdexit'],
  ...[
    'svr_drop_call', 'svr_reboot_module', 'svr_reboot_dev', 'reset_remain_time', 'get_cells_list',
    'CURCELL', 'ATSTART', 'ATSTOP', 'ATALIVE', 'get_gsm_num', 'get_gsm_number', 'get_exp_time',
    'get_remain_time', 'get_gsm_state', 'get_imei', 'get_out_call_interval',
  ].map((word): [string, CommandRule] => [word, 'password-only']),
  ...[
    'set_gsm_num', 'set_gsm_number', 'set_exp_time', 'set_imei', 'set_out_call_interval',
    'set_base_cell', 'module_ctl_i', 'module_ctl', 'ATCMD',
  ].map((word): [string, CommandRule] => [word, 'setter']),
  // `<EVENT> <recvid> OK|ERROR msg|DISABLE` is the server's ack (goipcron 253/290/584); `GSM id pwd`
  // is a server request of the same shape (NiceLabs command_call.go). AT events get no reply.
  ...[...EVENT_NAMES].filter((name) => name !== 'AT').map((name): [string, CommandRule] => [name, 'event-ack']),
]);

/** Shapes of a getter's answer (`get_gsm_num 879901 13800138000`, spec §5-§11); get_gsm_number is NiceLabs' spelling. */
const GETTER_ANSWER: ReadonlyMap<string, RegExp> = new Map([
  ['get_gsm_num', /^\+?\d{5,}$/],
  ['get_gsm_number', /^\+?\d{5,}$/],
  ['get_imei', /^\d{14,17}$/],
  ['get_exp_time', /^-?\d+$/],
  ['get_remain_time', /^-?\d+$/],
  ['get_out_call_interval', /^-?\d+$/],
  ['get_gsm_state', /^[A-Z_]+$/],
]);

// Leading-byte table for looksLikeGoipSms, indexed by the first byte so most datagrams are
// rejected after one array read.
const PREFIXES: Buffer[][] = Array.from({ length: 256 }, () => []);
function addPrefix(text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  PREFIXES[bytes[0]!]!.push(bytes);
}
addPrefix('req:');
addPrefix('reg:');
for (const name of EVENT_NAMES) addPrefix(`${name}:`);
for (const word of COMMAND_RULES.keys()) addPrefix(`${word} `);

/** True when the datagram starts like a GoIP SMS-server message (`req:`, `RECEIVE:`, `MSG `...). Bytes only, no decoding. */
export function looksLikeGoipSms(payload: Buffer): boolean {
  if (payload.length < 3) return false;
  for (const prefix of PREFIXES[payload[0]!]!) {
    if (payload.length < prefix.length) continue;
    let i = 1;
    while (i < prefix.length && payload[i] === prefix[i]) i++;
    if (i === prefix.length) return true;
  }
  return false;
}

export function analyzeGoipSms(payload: Buffer, ctx: PacketContext): AnalyzerResult | null {
  if (!looksLikeGoipSms(payload)) return null;
  // Senders terminate with `\n` or `\r\n` and some pad with NULs; the text itself is UTF-8 (§1.1.5
  // pitfall 9) and is never case-folded (node-goip's lowercasing corrupts SMS bodies, pitfall 5).
  let end = payload.length;
  while (end > 0 && (payload[end - 1] === 0x00 || payload[end - 1] === 0x0a || payload[end - 1] === 0x0d)) end--;
  const text = payload.toString('utf8', 0, end);

  if (text.startsWith('req:') || text.startsWith('reg:')) return readRegistration(text, ctx);
  // The prefix table guarantees a word followed by ':' (event) or ' ' (command, ack).
  let sep = 0;
  while (sep < text.length && text[sep] !== ':' && text[sep] !== ' ') sep++;
  const word = text.slice(0, sep);
  if (text[sep] === ':') return isEventName(word) ? readEvent(word, text, ctx) : null;
  return readCommand(word, text, ctx);
}

function isEventName(word: string): word is GoipEventName {
  return EVENT_NAMES.has(word);
}

type Fields = Array<[string, string]>;

/** `k:v;k:v;` split on ';', each pair on its first ':' only (values hold ':', pitfall 1). Empty segments (the trailing ';') are skipped. */
function splitFields(text: string): Fields | string {
  const fields: Fields = [];
  for (const segment of text.split(';')) {
    if (segment === '') continue;
    const colon = segment.indexOf(':');
    if (colon <= 0) return 'field without key:value';
    fields.push([segment.slice(0, colon), segment.slice(colon + 1)]);
  }
  return fields;
}

/** Empty, `(null)` and `<NULL>` all mean "not set" (NiceLabs, pitfall 6). */
function present(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const lower = value.toLowerCase();
  return lower === '(null)' || lower === '<null>' ? undefined : value;
}

function integer(value: string | undefined, signed: boolean): number | undefined {
  if (value === undefined || !(signed ? /^-?\d{1,15}$/ : /^\d{1,15}$/).test(value)) return undefined;
  return Number(value);
}

function malformed(reason: string, ctx: PacketContext): AnalyzerResult {
  return { observations: [], malformed: [{ protocol: PROTOCOL, reason, ref: ctx.ref }] };
}

/** `req:`/`reg:` is a keep-alive, or a reply when its second field is `status` (§1.1.2: servers answer with either token). */
function readRegistration(text: string, ctx: PacketContext): AnalyzerResult {
  const fields = splitFields(text);
  if (typeof fields === 'string') return malformed(`keep-alive ${fields}`, ctx);
  const token = text.startsWith('reg:') ? 'reg' : 'req';
  const count = integer(fields[0]?.[1], false);
  if (fields[1]?.[0].toLowerCase() === 'status') {
    const status = integer(fields[1][1], true);
    if (count === undefined) return malformed('keep-alive reply count is not a number', ctx);
    if (status === undefined) return malformed('keep-alive reply status is not a number', ctx);
    const reply: GoipKeepAliveReplyObservation = {
      kind: 'goip-keepalive-reply', device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref, token, count, status,
    };
    return { observations: [reply] };
  }
  if (token === 'reg') return malformed('reg: without status', ctx);
  if (count === undefined) return malformed('keep-alive count is not a number', ctx);
  const id = fields.find(([key]) => key.toLowerCase() === 'id');
  if (id === undefined) return malformed('keep-alive without id', ctx);
  return { observations: [keepAlive(fields, count, id[1], ctx)] };
}

/** Field names as goipcron reads them positionally (goipcron.c 903-967) plus NiceLabs' extras (§1.1.1). */
function keepAlive(fields: Fields, count: number, id: string, ctx: PacketContext): GoipKeepAliveObservation {
  const obs: GoipKeepAliveObservation = {
    kind: 'goip-keepalive', device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref,
    count, channelId: present(id) ?? '', fields,
  };
  for (const [key, raw] of fields.slice(1)) {
    const value = present(raw);
    if (value === undefined) continue;
    switch (key.toLowerCase()) {
      // The keep-alive says `pass:`, events and some firmware say `password:` (pitfall 3).
      case 'pass': case 'password': obs.password ??= value; break;
      case 'num': obs.num = value; break;
      case 'signal': setNumber(obs, 'signal', integer(value, false)); break;
      case 'gsm_status': obs.gsmStatus = value; break;
      case 'voip_status': obs.voipStatus = value; break;
      case 'voip_state': obs.voipState = value; break;
      // remain_time is the call-minute budget, -1 = unlimited (NiceLabs notify.go).
      case 'remain_time': setNumber(obs, 'remainTime', integer(value, true)); break;
      case 'imei': obs.imei = value; break;
      case 'imsi': obs.imsi = value; break;
      case 'iccid': obs.iccid = value; break;
      case 'pro': obs.carrier = value; break;
      case 'idle': setNumber(obs, 'idle', integer(value, false)); break;
      case 'disable_status': obs.disableStatus = value; break;
      case 'sms_login': obs.smsLogin = value; break;
      case 'smb_login': obs.smbLogin = value; break;
      case 'cgatt': obs.cgatt = value; break;
      case 'cellinfo': readCellInfo(value, obs); break;
    }
  }
  return obs;
}

/** Sets a numeric field only when it parsed, so the object carries no `undefined` keys. */
function setNumber(obs: GoipKeepAliveObservation, key: 'signal' | 'remainTime' | 'idle', value: number | undefined): void {
  if (value !== undefined) obs[key] = value;
}

/** `LAC:7E5,CELL ID:5E5B`: hex LAC and cell id, the second key with a space (pitfall 1). */
function readCellInfo(value: string, obs: GoipKeepAliveObservation): void {
  for (const part of value.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) continue;
    const key = part.slice(0, colon).trim().toUpperCase();
    const item = present(part.slice(colon + 1).trim());
    if (item === undefined) continue;
    if (key === 'LAC') obs.lac = item;
    else if (key === 'CELL ID' || key === 'CELLID' || key === 'CI') obs.cell = item;
  }
}

/**
 * Fields that run to the end of the datagram: the SMS or USSD text after the first `;msg:` may hold
 * `;`, `:` and even `msg:` (pitfall 2; goipcron reads it with `%3000c`), and the mirrored AT text
 * after `;receive:` may hold `;` (e.g. `ATD123;`).
 */
const REST_FIELD: Partial<Record<GoipEventName, string>> = { RECEIVE: 'msg', USSN: 'msg', AT: 'receive' };

/** `NAME:recvid;id:..;password:..;...` (§1.1.3). */
function readEvent(event: GoipEventName, text: string, ctx: PacketContext): AnalyzerResult {
  let head = text;
  let rest: [string, string] | undefined;
  const restKey = REST_FIELD[event];
  if (restKey !== undefined) {
    const marker = `;${restKey}:`;
    const at = text.indexOf(marker);
    if (at >= 0) {
      head = text.slice(0, at);
      rest = [restKey, text.slice(at + marker.length)];
    } else if (event !== 'AT') {
      return malformed(`${event} without ${restKey}`, ctx);
    }
  }
  const pairs = splitFields(head);
  if (typeof pairs === 'string') return malformed(`event ${pairs}`, ctx);
  // recvid is "count with the current time stamp decreasing" and goes negative when NTP is not
  // synced (NiceLabs known issue, pitfall 7).
  const recvId = integer(pairs[0]?.[1], true);
  if (recvId === undefined) return malformed('event recvid is not a number', ctx);

  let channelId: string | undefined;
  let password: string | undefined;
  const fields: Fields = [];
  for (const [key, value] of pairs.slice(1)) {
    const lower = key.toLowerCase();
    if (lower === 'id' && channelId === undefined) channelId = value;
    else if ((lower === 'password' || lower === 'pass') && password === undefined) password = value;
    else if (event === 'HANGUP' && lower === 'num' && value.includes(',cause:')) {
      // The CN spec §13 joins the cause to the number: `num:,cause:Normal call clearing`.
      const at = value.indexOf(',cause:');
      fields.push(['num', value.slice(0, at)], ['cause', value.slice(at + ',cause:'.length)]);
    } else fields.push([key, value]);
  }
  if (rest !== undefined) fields.push(rest);
  // GSM answers a server `GSM` request and carries no id (NiceLabs notify_test.go).
  if (channelId === undefined && event !== 'GSM') return malformed(`${event} without id`, ctx);

  const base = { device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref };
  const eventObs: GoipEventObservation = {
    kind: 'goip-event', ...base, event, recvId, channelId: present(channelId) ?? '', fields,
  };
  const pwd = present(password);
  if (pwd !== undefined) eventObs.password = pwd;
  if (event !== 'RECEIVE') return { observations: [eventObs] };

  // RECEIVE: srcnum, an optional smscnum (goipcron 326-346), then the body.
  const sender = fields.find(([key]) => key.toLowerCase() === 'srcnum');
  if (sender === undefined) return malformed('RECEIVE without srcnum', ctx);
  const sms: GoipSmsObservation = {
    kind: 'goip-sms', ...base, recvId, channelId: eventObs.channelId, sender: sender[1], body: rest?.[1] ?? '',
  };
  const smsc = present(fields.find(([key]) => key.toLowerCase() === 'smscnum')?.[1]);
  if (smsc !== undefined) sms.smsc = smsc;
  return { observations: [eventObs, sms] };
}

/**
 * Space-separated `<word> <sendid> [args]` (§1.1.4). A known word without a numeric sendid is
 * ordinary text that happens to start with `OK ` or `SEND `, so it is not this protocol (null).
 */
function readCommand(word: string, text: string, ctx: PacketContext): AnalyzerResult | null {
  const rule = COMMAND_RULES.get(word);
  const words = text.split(' ').filter((w) => w !== '');
  const sendId = words[1];
  if (rule === undefined || sendId === undefined || !/^-?\d+$/.test(sendId)) return null;
  const args = words.slice(2);

  const decided = decideSender(rule, word, args);
  if (typeof decided === 'string') return malformed(decided, ctx);
  const command: GoipCommandObservation = {
    kind: 'goip-command', device: ctx.src, peer: ctx.dst, ts: ctx.ts, ref: ctx.ref,
    from: decided.from, command: word, sendId,
    // A free-text tail (SMS text, USSD answer, error message) is kept whole as the last argument.
    args: decided.textFrom === undefined ? args : splitKeepingTail(text, 2 + decided.textFrom + 1).slice(2),
  };
  return { observations: [command] };
}

interface SenderDecision {
  from: 'server' | 'gateway' | 'either';
  /** Index (in args) from which the rest of the line is one free-text argument. */
  textFrom?: number;
}

function decideSender(rule: CommandRule, word: string, args: string[]): SenderDecision | string {
  switch (rule) {
    case 'server': return { from: 'server' };
    case 'gateway': return { from: 'gateway' };
    case 'either': return { from: 'either' };
    case 'gateway-text': return { from: 'gateway', textFrom: 0 };
    case 'event-ack': return { from: 'server', textFrom: 1 };
    // `MSG id length text`: the text is the rest, spaces included (spec §3).
    case 'msg': return args.length === 0 ? 'MSG without length' : { from: 'server', textFrom: 1 };
    case 'bulk-password': return args.length === 0 ? { from: 'gateway' } : { from: 'server', textFrom: 0 };
    case 'bulk-send':
      if (args.length === 0) return { from: 'gateway' };
      if (args.length === 2) return { from: 'server' };
      return 'SEND with an unexpected argument count';
    case 'ussd':
      if (args.length === 2 && /^[0-9*#+]+$/.test(args[1]!)) return { from: 'server' };
      return { from: 'gateway', textFrom: 0 };
    case 'ussdexit': return args.length === 1 ? { from: 'server' } : { from: 'gateway' };
    case 'setter': return args.length >= 2 ? { from: 'server' } : { from: 'gateway' };
    case 'password-only': {
      if (args.length !== 1) return { from: 'gateway', textFrom: 0 };
      const value = args[0]!;
      const answer = GETTER_ANSWER.get(word);
      const isAnswer = value.toLowerCase() === 'ok' || (answer !== undefined && answer.test(value));
      return { from: isAnswer ? 'gateway' : 'server' };
    }
  }
}

/** Splits on spaces into at most `parts` pieces; the last piece is the untouched remainder. */
function splitKeepingTail(text: string, parts: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (out.length < parts - 1) {
    while (text[i] === ' ') i++;
    if (i >= text.length) return out;
    const space = text.indexOf(' ', i);
    if (space < 0) {
      out.push(text.slice(i));
      return out;
    }
    out.push(text.slice(i, space));
    i = space + 1;
  }
  while (text[i] === ' ') i++;
  if (i < text.length) out.push(text.slice(i));
  return out;
}
