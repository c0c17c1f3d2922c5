/**
 * The read-only policy: which AT command lines goipwatch may send to a module that may be
 * evidence. An allow-list, as at-commands.md §0 item 8 and §5 recommend: a line is sent only
 * when every command in it is a known read or a transient setting; anything else is refused
 * with a reason, and the commands that write to the SIM or the module, delete data, place
 * calls or rewrite the IMEI have their own reasons.
 *
 *   "AT+CMGF=0;+CMGL=4"   ──► strip spaces outside quotes ──► split: +CMGF=0 | +CMGL=4
 *                               (basic commands E0V1 split too; D swallows the rest of the line)
 *                         ──► each part: denied name? read (?) or test (=?) form? allowed set?
 *                         ──► { allowed: true } only when every part is allowed
 *
 * Decisions (the brief's open questions):
 * - AT+CPMS=… (choose SMS storage) is allowed: a selection in RAM, saved only by AT+CSAS (refused).
 * - ATZ and AT&F are refused: they discard the settings found on the module, which the intake
 *   records first (§3.10), and goipwatch sets the few it needs (E0, +CMEE, +CMGF, +CSCS) itself.
 * - AT+CFUN=1 (radio on) is allowed; +CFUN=0/4 (radio off) and +CFUN=1,1 (reboot) are refused.
 *   Wavecom may reboot on a plain +CFUN=1 (§2.3): goipwatch's drivers never send it.
 * - +CNMI is allowed only with <mt> 0 or 1, so new SMS are still stored on the SIM (evidence)
 *   and announced with +CMTI; <mt> 2/3 would route them past storage.
 * - Reading an unread SMS (+CMGR, +CMGL) marks it read on most modules (27.005); that is the
 *   price of reading it and is allowed. SIMCom's `,1` mode ("do not change status") is accepted.
 * - USSD requests (+CUSD=1,"*100#") are refused: they act on the subscription at the network.
 */

export interface PolicyVerdict {
  allowed: boolean;
  /** Why a line is refused (or, for an allowed line, nothing). */
  reason?: string;
  /** The command of a chained line that was refused. */
  part?: string;
}

type Form = 'exec' | 'read' | 'test' | 'set';

interface Part {
  /** `+CMGD`, `^SYSINFO`, or a basic command (`E`, `&W`, `S`, `D`). */
  name: string;
  extended: boolean;
  form: Form;
  /** Parameters after `=` (set form) or after a basic command's letter. */
  args: string;
  text: string;
}

/** Denied in every form, the test form included: IMEI and NV writers, firmware loaders (§5). */
const NEVER: ReadonlyMap<string, string> = new Map([
  ['+EGMR', 'IMEI/NV write command of MediaTek modules (§5): its read and write forms differ between firmwares'],
  ['+SIMEI', 'undocumented SIMCom IMEI write (§5)'],
  ['+CIMEI', 'IMEI write command'],
  ['^CIMEI', 'IMEI write command (Huawei)'],
  ['+WIMEI', 'IMEI write command (Wavecom)'],
  ['^DATALOCK', 'unlocks Huawei NV items for writing (IMEI rewrite)'],
  ['^NVWR', 'writes a Huawei NV item'],
  ['^NVWRPART', 'writes a Huawei NV item'],
  ['+QNVW', 'writes a Quectel NV item'],
  ['+QNVFW', 'writes a Quectel NV file'],
  ['+QPRTPARA', 'saves or restores Quectel parameters in NV'],
  ['+QFOTADL', 'firmware update'],
  ['+CFOTA', 'firmware update'],
  ['+UFWUPD', 'firmware update'],
  ['+WDWL', 'Wavecom download mode (firmware)'],
  ['+WOPEN', 'Wavecom application / download mode'],
  ['^FWLOAD', 'firmware update'],
  ['+CRESET', 'resets the module (SIMCom)'],
  ['^RESET', 'resets the module (Huawei)'],
  ['+CPOWD', 'powers the module down (SIMCom)'],
  ['+QPOWD', 'powers the module down (Quectel)'],
]);

/** Denied as set or action; their read (`?`) and test (`=?`) forms are harmless and allowed. */
const WRITES: ReadonlyMap<string, string> = new Map([
  ['+CMGD', 'deletes SMS from storage'],
  ['+CMGW', 'writes an SMS into storage'],
  ['+CMSS', 'sends an SMS from storage'],
  ['+CMGS', 'sends an SMS'],
  ['+CMGC', 'sends an SMS command to the network'],
  ['+CNMA', 'acknowledges an SMS to the network (not needed: SMS stay in storage, +CNMI <mt> 0/1)'],
  ['+CSAS', 'saves SMS settings to non-volatile memory'],
  ['+CRES', 'restores saved SMS settings over the current ones'],
  ['+CSCA', 'changes the SMS service-centre address (stored on the SIM)'],
  ['+CSMP', 'changes SMS parameters (saved with +CSAS)'],
  ['+CPBW', 'writes a phonebook entry (SIM or module)'],
  ['+CPWD', 'changes a SIM or facility password'],
  ['+CPIN', 'enters a PIN or PUK: wrong attempts block the SIM'],
  ['+CPOL', 'writes the preferred-operator list on the SIM'],
  ['+CACM', 'resets the accumulated call meter on the SIM'],
  ['+CAMM', 'writes the call-meter maximum on the SIM'],
  ['+CPUC', 'writes the price per unit on the SIM'],
  ['+CGSN', 'a value after AT+CGSN= is taken as a new IMEI by some firmwares; plain AT+CGSN reads it (§5)'],
  ['+CGDCONT', 'writes a PDP context (saved to NV on many modules)'],
  ['+CGATT', 'changes the packet-domain attach state'],
  ['+CGACT', 'activates or deactivates a PDP context'],
  ['+IPR', 'changes the port speed (saved on some modules)'],
  ['+CMUX', 'switches the port to multiplexer mode'],
  ['+CCLK', 'sets the module clock'],
  ['+CHUP', 'hangs up a call (goipwatch leaves calls alone)'],
  ['+CHLD', 'call hold/multiparty control'],
  ['+CTFR', 'deflects an incoming call'],
  ['+VTS', 'sends DTMF tones in a call'],
  ['^SYSCFG', 'changes Huawei mode and band settings (saved)'],
  ['^SYSCFGEX', 'changes Huawei mode and band settings (saved)'],
  ['+QCFG', 'changes Quectel configuration (saved to NV)'],
  ['^PORTSEL', 'changes the Huawei port role'],
]);

/** Execution (no parameter) forms that only read. */
const READ_EXEC = new Set([
  '+CGMI', '+CGMM', '+CGMR', '+CGSN', '+GSN', '+GMI', '+GMM', '+GMR', '+CIMI', '+CCID', '+ICCID', '+CICCID',
  '+QCCID', '^ICCID', '+CNUM', '+CSQ', '+CESQ', '+CLCC', '+CPAS', '+CEER', '+CBC', '+CLAC', '+COPN', '+GCAP',
  '^SYSINFO', '^SYSINFOEX', '+QNWINFO', '+QCSQ', '+QSPN',
]);

type SetRule = (args: string) => string | undefined;
const allow = (re: RegExp, reason: string): SetRule => (args) => (re.test(args) ? undefined : reason);

/** Set forms allowed with these parameters: transient settings and parameterised reads. */
const SETS: ReadonlyMap<string, SetRule> = new Map<string, SetRule>([
  ['+CMEE', allow(/^[0-2]$/, 'unknown +CMEE mode')],
  ['+CMGF', allow(/^[01]$/, 'unknown +CMGF mode')],
  ['+CSCS', allow(/^"?[A-Z0-9-]{2,10}"?$/i, 'not a character-set name')],
  ['+CSDH', allow(/^[01]$/, 'unknown +CSDH mode')],
  ['+CPMS', allow(/^"?[A-Z]{2}"?(,"?[A-Z]{2}"?){0,2}$/i, 'not a storage selection')],
  ['+CPBS', allow(/^"?[A-Z]{2}"?$/i, 'not a phonebook storage selection')],
  ['+CMGL', allow(/^(\d|"[A-Z ]{3,10}")(,[01])?$/i, 'not a message-status list request')],
  ['+CMGR', allow(/^\d{1,5}(,[01])?$/, 'not a message index')],
  ['+CPBR', allow(/^\d{1,5}(,\d{1,5})?$/, 'not a phonebook index range')],
  ['+CPBF', allow(/^"[^"]*"$/, 'not a phonebook search string')],
  ['+CREG', allow(/^[0-3]$/, 'unknown +CREG mode')],
  ['+CGREG', allow(/^[0-3]$/, 'unknown +CGREG mode')],
  ['+CEREG', allow(/^[0-5]$/, 'unknown +CEREG mode')],
  ['+C5GREG', allow(/^[0-3]$/, 'unknown +C5GREG mode')],
  ['+CLIP', allow(/^[01]$/, 'unknown +CLIP mode')],
  ['+CRC', allow(/^[01]$/, 'unknown +CRC mode')],
  ['+CUSD', allow(/^[0-2]$/, 'sends a USSD request to the network (may act on the subscription)')],
  ['+COPS', allow(/^3,[0-2]$/, 'changes network registration (only +COPS=3,<format> is allowed)')],
  ['+CLCK', allow(/^"[A-Z]{2}",2$/i, 'locks or unlocks a facility (only the query mode 2 is allowed)')],
  ['+CFUN', (a) => (/^1(,0)?$/.test(a) ? undefined : /^1,1$/.test(a) ? 'reboots the module' : /^[04]\b/.test(a) ? 'turns the radio off' : 'changes the module functionality level')],
  ['+CNMI', (a) => {
    const m = /^[0-3](?:,([0-3])(?:,[0-3](?:,[0-2](?:,[01])?)?)?)?$/.exec(a);
    if (!m) return 'not a +CNMI setting';
    return m[1] === '2' || m[1] === '3' ? 'routes new SMS to the port without storing them on the SIM' : undefined;
  }],
  ['+CRSM', crsmRule],
  ['+CSIM', csimRule],
  // Vendor cell-information modes: transient, not saved (at-commands.md §2).
  ['+CENG', allow(/^[0-4](,[01])?$/, 'unknown +CENG mode')],
  ['+QENG', allow(/^("(servingcell|neighbourcell|3gcomm)"|[01](,[01])?)$/i, 'unknown +QENG request')],
  ['+CCED', allow(/^(0,\d{1,2}(,\d{1,2})?|0|2)$/, 'unknown +CCED mode')],
  ['^CURC', allow(/^[01]$/, 'unknown ^CURC mode')],
]);

/** 27.007 +CRSM <command>: 176 READ BINARY, 178 READ RECORD, 192 GET RESPONSE, 242 STATUS. */
function crsmRule(args: string): string | undefined {
  const cmd = Number(/^(\d{1,3})/.exec(args)?.[1]);
  if ([176, 178, 192, 242].includes(cmd)) return undefined;
  if (cmd === 214 || cmd === 220) return `${cmd === 214 ? 'UPDATE BINARY' : 'UPDATE RECORD'} writes a SIM file`;
  if (cmd === 219) return 'SET DATA writes a SIM file';
  return `SIM command ${Number.isNaN(cmd) ? '?' : cmd} is not a read`;
}

/** +CSIM=<length>,"<APDU>": the instruction byte (second octet) must be a read. */
function csimRule(args: string): string | undefined {
  const apdu = /^\d{1,4},"?([0-9A-Fa-f]{8,})"?$/.exec(args)?.[1];
  if (!apdu) return 'not a +CSIM APDU';
  const ins = Number.parseInt(apdu.slice(2, 4), 16);
  if ([0xa4, 0xb0, 0xb2, 0xc0, 0xf2].includes(ins)) return undefined;
  if (ins === 0xd6 || ins === 0xdc || ins === 0xe2) return 'APDU updates a SIM file';
  if ([0x20, 0x24, 0x26, 0x28, 0x2c].includes(ins)) return 'APDU verifies or changes a PIN (wrong attempts block the SIM)';
  if (ins === 0x88) return 'APDU runs the authentication algorithm (changes SIM counters)';
  if (ins === 0x04 || ins === 0x44) return 'APDU invalidates or rehabilitates a SIM file';
  return `APDU instruction 0x${ins.toString(16).toUpperCase()} is not a read`;
}

/** Basic (V.250) commands: allowed ones, and the reasons for the others that matter. */
function basicVerdict(p: Part): string | undefined {
  switch (p.name) {
    case 'E': case 'V': case 'Q': case 'X': case 'I': case '&V':
      return undefined;
    case 'S':
      return p.form === 'read' ? undefined : 'writes an S-register (S0 sets auto-answer)';
    case 'D': return 'dials: goipwatch never places calls';
    case 'A': return 'answers an incoming call';
    case 'H': return 'hangs up a call (goipwatch leaves calls alone)';
    case 'O': return 'returns to online data mode';
    case 'Z': return 'resets the settings to the saved profile (the intake records them as found, §3.10)';
    case '&F': return 'restores factory settings (the intake records them as found, §3.10)';
    case '&W': return 'saves the active settings to non-volatile memory';
    default: return `basic command ${p.name} is not on the read-only allow-list`;
  }
}

function partVerdict(p: Part): string | undefined {
  if (!p.extended) return basicVerdict(p);
  const never = NEVER.get(p.name);
  if (never) return never;
  if (p.form === 'read' || p.form === 'test') return undefined;
  if (p.form === 'exec' && READ_EXEC.has(p.name)) return undefined;
  const write = WRITES.get(p.name);
  if (write) return write;
  if (p.form === 'exec') return `${p.name} is not on the read-only allow-list`;
  const rule = SETS.get(p.name);
  if (!rule) return `${p.name}=… is not on the read-only allow-list`;
  return rule(p.args);
}

const EXT_START = /[+^$#!%*@]/;

/** V.250: spaces outside quoted strings are ignored; they do not hide a command from the policy. */
function stripSpaces(s: string): string {
  let out = '';
  let inQuote = false;
  for (const c of s) {
    if (c === '"') inQuote = !inQuote;
    if (inQuote || c !== ' ') out += c;
  }
  return out;
}

/** Split the part of a line after `AT` into commands; undefined when a character fits no command. */
function splitCommands(body: string): Part[] | string {
  const parts: Part[] = [];
  let i = 0;
  while (i < body.length) {
    if (body[i] === ';') {
      i++;
      // `AT+CMGF=0;AT+CMGL=4` is not V.250, but scripts send it: the repeated AT is skipped.
      if (/^AT/i.test(body.slice(i))) i += 2;
      continue;
    }
    const c = body[i]!;
    if (EXT_START.test(c)) {
      const name = /^[+^$#!%*@][A-Za-z0-9_.]+/.exec(body.slice(i))?.[0];
      if (!name) return `no command name after '${c}'`;
      let j = i + name.length;
      let inQuote = false;
      for (; j < body.length; j++) {
        if (body[j] === '"') inQuote = !inQuote;
        else if (body[j] === ';' && !inQuote) break;
      }
      const tail = body.slice(i + name.length, j);
      const form: Form = tail === '' ? 'exec' : tail === '?' ? 'read' : tail === '=?' ? 'test' : tail.startsWith('=') ? 'set' : 'exec';
      if (form === 'exec' && tail !== '') return `unrecognised syntax after ${name.toUpperCase()}`;
      parts.push({ name: name.toUpperCase(), extended: true, form, args: form === 'set' ? tail.slice(1) : '', text: body.slice(i, j) });
      i = j;
      continue;
    }
    const rest = body.slice(i);
    // D takes the rest of the line as its dial string (V.250 §6.3.1).
    const m = /^[Dd].*$/.exec(rest) ?? /^&[A-Za-z]\d*/.exec(rest) ?? /^[Ss]\d+(\?|=\d*)?/.exec(rest) ?? /^[A-Za-z]\d*/.exec(rest);
    if (!m) return `unrecognised character '${c}'`;
    const text = m[0];
    const upper = text.toUpperCase();
    const name = upper.startsWith('&') ? upper.slice(0, 2) : upper[0]!;
    const form: Form = name === 'S' && text.endsWith('?') ? 'read' : 'set';
    parts.push({ name, extended: false, form, args: text.slice(name.length), text });
    i += text.length;
  }
  return parts;
}

/**
 * May this command line be sent to an evidence module? Case-insensitive, spaces ignored, every
 * command of a `;`-chained line checked. Control characters (Ctrl-Z ends an SMS body, ESC
 * aborts one) are refused outright.
 */
export function classifyCommand(cmd: string): PolicyVerdict {
  const line = cmd.replace(/\r?\n?$/, '');
  if (/[\x00-\x1f\x7f]/.test(line)) return { allowed: false, reason: 'control character in the command line (Ctrl-Z/ESC end or abort an SMS body)' };
  const compact = stripSpaces(line);
  if (!/^AT/i.test(compact)) return { allowed: false, reason: 'not an AT command line' };
  const parts = splitCommands(compact.slice(2));
  if (typeof parts === 'string') return { allowed: false, reason: parts };
  for (const p of parts) {
    const reason = partVerdict(p);
    if (reason) return { allowed: false, reason, part: p.text };
  }
  return { allowed: true };
}

/** The refusal for AtChannel's `refuse` option (src/at/channel.ts): a reason, or undefined to send. */
export function refusalReason(cmd: string): string | undefined {
  const v = classifyCommand(cmd);
  return v.allowed ? undefined : `${v.reason}${v.part ? ` (${v.part})` : ''}`;
}
