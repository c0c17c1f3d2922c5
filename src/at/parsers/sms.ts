/**
 * SMS storage and messages over AT (27.005): +CPMS, +CMGL/+CMGR listings in PDU and text mode,
 * the +CMTI/+CMT/+CDS URCs, and the call and USSD URCs a listening port sees (RING, +CRING,
 * +CLIP, +CUSD). Vectors: at-commands.md §1.8, §1.10, §3.5.
 *
 * PDU-mode listings are header + PDU line pairs; the PDU itself is decoded by src/at/pdu.ts.
 * The listing parser never checks a PDU's length against the header (MM keeps a truncated
 * Pantech PDU as is, §1.8): the decoder rejects it later, with its own reason.
 */
import { decodeTeString, decodeUcs2Hex, gsm7Decode, unpackSeptets, type TeCharset } from './charset.js';
import {
  afterPrefix, contentLines, fail, splitParams, toInt, type AtField, type Parsed,
} from './common.js';
import { parseTextTimestamp } from './timestamp.js';

export interface StorageUse {
  memory: string;
  used: number;
  total: number;
}

export interface PreferredStorage {
  /** mem1: where messages are read and deleted. */
  read: StorageUse;
  /** mem2: where messages are written and sent from. */
  write?: StorageUse;
  /** mem3: where received messages are stored. */
  receive?: StorageUse;
}

/** AT+CPMS?: `+CPMS: "SM",100,100,"SR",5,10,"TA",1,100`, names quoted or not, spaces anywhere (§1.8). */
export function parseCpmsRead(lines: readonly string[]): Parsed<PreferredStorage> {
  for (const raw of contentLines(lines)) {
    const rest = afterPrefix(raw, '+CPMS');
    if (rest === undefined) continue;
    const f = splitParams(rest);
    const groups: StorageUse[] = [];
    for (let i = 0; i + 2 < f.length; i += 3) {
      const used = toInt(f[i + 1]!.text);
      const total = toInt(f[i + 2]!.text);
      if (!f[i]!.text || used === undefined || total === undefined) return fail(`+CPMS group ${i / 3 + 1} is not memory,used,total: ${raw}`);
      groups.push({ memory: f[i]!.text.toUpperCase(), used, total });
    }
    if (groups.length === 0) return fail(`+CPMS without a storage group: ${raw}`);
    const out: PreferredStorage = { read: groups[0]! };
    if (groups[1]) out.write = groups[1];
    if (groups[2]) out.receive = groups[2];
    return out;
  }
  return fail('no +CPMS line in the answer');
}

/**
 * AT+CPMS=?: three groups, each a parenthesised list, a bare item or empty, padded with spaces
 * (`("ME","MT"),"ME",("SM")`, `(),,(  )`, §1.8).
 */
export function parseCpmsSupported(lines: readonly string[]): Parsed<{ read: string[]; write: string[]; receive: string[] }> {
  for (const raw of contentLines(lines)) {
    const rest = afterPrefix(raw, '+CPMS');
    if (rest === undefined) continue;
    const groups: string[] = [];
    let depth = 0;
    let inQuote = false;
    let cur = '';
    for (const c of rest) {
      if (c === '"') inQuote = !inQuote;
      if (!inQuote && c === '(') depth++;
      if (!inQuote && c === ')') depth--;
      if (!inQuote && depth === 0 && c === ',') {
        groups.push(cur);
        cur = '';
      } else cur += c;
    }
    groups.push(cur);
    const lists = groups.map((g) => splitParams(g.replace(/[()]/g, '')).map((x) => x.text.toUpperCase()).filter(Boolean));
    return { read: lists[0] ?? [], write: lists[1] ?? [], receive: lists[2] ?? [] };
  }
  return fail('no +CPMS line in the answer');
}

/** Message status: 27.005 <stat> as number (PDU mode) and text (text mode). */
export const SMS_STATUSES = ['REC UNREAD', 'REC READ', 'STO UNSENT', 'STO SENT', 'ALL'] as const;
export type SmsStatus = (typeof SMS_STATUSES)[number];

export interface PduListing {
  mode: 'pdu';
  /** Storage index (absent in +CMGR, whose index is the one asked for). */
  index?: number;
  stat: number;
  status?: SmsStatus;
  alpha?: string;
  /** TPDU length in octets, SMSC part excluded (27.005 §3.1). */
  length: number;
  /** Hex PDU as received, not checked against `length`. */
  pdu: string;
}

export interface TextListing {
  mode: 'text';
  index?: number;
  status: string;
  /** Originator (received) or destination (stored to send). */
  address: string;
  alpha?: string;
  /** Service-centre timestamp, ISO 8601 with the message's zone (`+32` quarter hours = +08:00). */
  timestamp?: string;
  scts?: string;
  typeOfAddress?: number;
  /** Body lines joined with '\n'. */
  text: string;
}

export type SmsListing = PduListing | TextListing;

export interface SmsListResult {
  messages: SmsListing[];
  /** Lines that could not be read, with why: counted and skipped, never fatal. */
  malformed: Array<{ line: string; reason: string }>;
}

/** A PDU header `<stat|index…>,[<alpha>],<length>` possibly followed by ` <pdu>` on the same line (MM generic CMGR). */
function pduHeader(f: AtField[], withIndex: boolean): { entry: Omit<PduListing, 'pdu'>; inlinePdu?: string } | string {
  const first = withIndex ? 1 : 0;
  const last = f[f.length - 1]!.text;
  const [lenText, inlinePdu] = last.split(/\s+/, 2) as [string, string | undefined];
  const length = toInt(lenText);
  const stat = toInt(f[first]?.text);
  if (stat === undefined || length === undefined || f.length < first + 2) return 'PDU header is not [index,]stat,[alpha,]length';
  const entry: Omit<PduListing, 'pdu'> = { mode: 'pdu', stat, length };
  if (SMS_STATUSES[stat]) entry.status = SMS_STATUSES[stat];
  if (withIndex) {
    const index = toInt(f[0]!.text);
    if (index === undefined) return 'PDU header index is not a number';
    entry.index = index;
  }
  // The alpha field sits between stat and length when present; Pantech omits it (§1.8).
  if (f.length >= first + 3 && f[first + 1]!.text) entry.alpha = f[first + 1]!.text;
  return inlinePdu ? { entry, inlinePdu } : { entry };
}

/** A text header: CMGL `<index>,<stat>,<addr>,[<alpha>],[<scts>],…`, CMGR `<stat>,<addr>,[<alpha>],<scts>,…`. */
function textHeader(f: AtField[], withIndex: boolean, charset: TeCharset | undefined): Omit<TextListing, 'text'> | string {
  const s = withIndex ? 1 : 0;
  if (f.length < s + 2) return 'text header has no address';
  const entry: Omit<TextListing, 'text'> = {
    mode: 'text', status: f[s]!.text.toUpperCase(), address: decodeTeString(f[s + 1]!.text, charset),
  };
  if (withIndex) {
    const index = toInt(f[0]!.text);
    if (index === undefined) return 'text header index is not a number';
    entry.index = index;
  }
  const alpha = f[s + 2]?.text;
  if (alpha) entry.alpha = decodeTeString(alpha, charset);
  const scts = f[s + 3]?.text;
  const ts = scts ? parseTextTimestamp(scts) : undefined;
  if (scts && ts) {
    entry.scts = scts;
    entry.timestamp = ts.iso;
  }
  const toa = toInt(f[s + 4]?.text);
  if (toa !== undefined) entry.typeOfAddress = toa;
  return entry;
}

/** In text mode a header's first parameter after the index is a quoted status; in PDU mode a number. */
function isTextMode(f: AtField[], withIndex: boolean): boolean {
  return f[withIndex ? 1 : 0]?.quoted ?? false;
}

function parseListing(lines: readonly string[], prefix: '+CMGL' | '+CMGR', charset: TeCharset | undefined): SmsListResult {
  const withIndex = prefix === '+CMGL';
  const content = contentLines(lines);
  const out: SmsListResult = { messages: [], malformed: [] };
  for (let i = 0; i < content.length; i++) {
    const line = content[i]!;
    const rest = afterPrefix(line, prefix);
    if (rest === undefined) {
      out.malformed.push({ line, reason: `line outside a ${prefix} entry` });
      continue;
    }
    const f = splitParams(rest);
    if (isTextMode(f, withIndex)) {
      const header = textHeader(f, withIndex, charset);
      const body: string[] = [];
      while (i + 1 < content.length && afterPrefix(content[i + 1]!, prefix) === undefined) body.push(content[++i]!);
      if (typeof header === 'string') {
        out.malformed.push({ line, reason: header });
        continue;
      }
      const joined = body.join('\n');
      out.messages.push({ ...header, text: charset === 'UCS2' ? decodeUcs2Hex(joined) ?? joined : joined });
      continue;
    }
    const header = pduHeader(f, withIndex);
    if (typeof header === 'string') {
      out.malformed.push({ line, reason: header });
      continue;
    }
    let pdu = header.inlinePdu;
    if (pdu === undefined) {
      const next = content[i + 1];
      if (next === undefined || afterPrefix(next, prefix) !== undefined) {
        out.malformed.push({ line, reason: 'PDU header without its PDU line' });
        continue;
      }
      pdu = next;
      i++;
    }
    out.messages.push({ ...header.entry, pdu: pdu.trim() });
  }
  return out;
}

/** AT+CMGL (=4 in PDU mode, ="ALL" in text mode): every entry; an empty store is an empty list. */
export function parseCmgl(lines: readonly string[], charset?: TeCharset): SmsListResult {
  return parseListing(lines, '+CMGL', charset);
}

/** AT+CMGR=<index>: one entry, PDU or text mode recognised from the header (§1.8 Telit, Gammu dumps). */
export function parseCmgr(lines: readonly string[], charset?: TeCharset): Parsed<SmsListing> {
  const r = parseListing(lines, '+CMGR', charset);
  if (r.messages[0]) return r.messages[0];
  return fail(r.malformed[0]?.reason ?? 'no +CMGR entry in the answer');
}

/** `+CMTI: "SM",3`: a message was stored at this index (§1.8). */
export function parseCmti(line: string): Parsed<{ memory: string; index: number }> {
  const rest = afterPrefix(line, '+CMTI');
  if (rest === undefined) return fail('not a +CMTI line');
  const f = splitParams(rest);
  const index = toInt(f[1]?.text);
  if (!f[0]?.text || index === undefined) return fail(`+CMTI is not "mem",index: ${line.trim()}`);
  return { memory: f[0].text.toUpperCase(), index };
}

/**
 * `+CMT:` URC and the line after it. PDU mode: `+CMT: ,24` / `+CMT:,24` then the PDU; text
 * mode: `+CMT: "+8615021012496",,"13/03/18,17:07:21+32",145,…` then the text (§1.8).
 */
export function parseCmt(line: string, data: string, charset?: TeCharset): Parsed<SmsListing> {
  const rest = afterPrefix(line, '+CMT');
  if (rest === undefined) return fail('not a +CMT line');
  const f = splitParams(rest);
  const last = f[f.length - 1]!;
  if (f.length <= 2 && !last.quoted && toInt(last.text) !== undefined) {
    const entry: PduListing = { mode: 'pdu', stat: 0, status: 'REC UNREAD', length: toInt(last.text)!, pdu: data.trim() };
    if (f.length === 2 && f[0]!.text) entry.alpha = f[0]!.text;
    return entry;
  }
  // Text mode has no status: a +CMT is an unread message routed straight to us.
  const header = textHeader([{ text: 'REC UNREAD', quoted: true }, ...f], false, charset);
  if (typeof header === 'string') return fail(header);
  return { ...header, text: charset === 'UCS2' ? decodeUcs2Hex(data.trim()) ?? data : data };
}

/** `+CDS: 24` and the status-report PDU line after it (§1.8). */
export function parseCds(line: string, data: string): Parsed<{ length: number; pdu: string }> {
  const rest = afterPrefix(line, '+CDS');
  const length = toInt(rest);
  if (rest === undefined || length === undefined) return fail('not a +CDS: <length> line');
  return { length, pdu: data.trim() };
}

export type RingEvent = { kind: 'RING' } | { kind: 'CRING'; type: string };

/** `RING` or `+CRING: VOICE` (SIMCom may end it `\r\r\n`, §1.10). */
export function parseRing(line: string): Parsed<RingEvent> {
  const t = line.replace(/[\r\n]+/g, '').trim();
  if (t.toUpperCase() === 'RING') return { kind: 'RING' };
  const rest = afterPrefix(t, '+CRING');
  if (rest) return { kind: 'CRING', type: rest.toUpperCase() };
  return fail('not a RING or +CRING line');
}

export interface CallerId {
  number: string;
  /** 145 international, 129/161 national or unknown. */
  type?: number;
  alpha?: string;
  /** <CLI validity>: 0 valid, 1 withheld by the caller, 2 not available (27.007 §7.6). */
  validity?: number;
}

/** `+CLIP: "123456789",129[,<subaddr>,<satype>[,[<alpha>][,<CLI validity>]]]` (§1.10). */
export function parseClip(line: string, charset?: TeCharset): Parsed<CallerId> {
  const rest = afterPrefix(line, '+CLIP');
  if (rest === undefined) return fail('not a +CLIP line');
  const f = splitParams(rest);
  const number = decodeTeString(f[0]?.text ?? '', charset);
  if (number && !/^\+?[0-9*#A-Da-d]{1,40}$/.test(number)) return fail(`+CLIP number is not a dial string: ${line.trim()}`);
  const out: CallerId = { number };
  const type = toInt(f[1]?.text);
  if (type !== undefined) out.type = type;
  if (f[4]?.text) out.alpha = decodeTeString(f[4].text, charset);
  const validity = toInt(f[5]?.text);
  if (validity !== undefined) out.validity = validity;
  return out;
}

export interface UssdReply {
  /** 0 done, 1 further action required, 2 terminated by network, 3 other client, 4 not supported, 5 timeout. */
  mode: number;
  text?: string;
  /** The string as sent, before decoding. */
  raw?: string;
  dcs?: number;
}

/** Alphabet of a cell-broadcast/USSD DCS (3GPP TS 23.038 §5): the bits that matter here. */
function cbsAlphabet(dcs: number | undefined): 'gsm7' | 'ucs2' | '8bit' {
  if (dcs === undefined) return 'gsm7';
  if (dcs === 0x11) return 'ucs2';
  const group = dcs >> 4;
  if (group >= 0x4 && group <= 0x7) return (['gsm7', '8bit', 'ucs2', 'gsm7'] as const)[(dcs >> 2) & 3];
  if (group === 0xf) return dcs & 0x04 ? '8bit' : 'gsm7';
  return 'gsm7';
}

/**
 * `+CUSD: <m>[,<str>[,<dcs>]]`. With a UCS-2 DCS (72) the string is UCS-2 hex; Huawei sticks
 * send even GSM 7-bit text as packed hex (Gammu F_ENCODED_USSD, §2.4): pass `packedHex`.
 */
export function parseCusd(line: string, opts: { charset?: TeCharset; packedHex?: boolean } = {}): Parsed<UssdReply> {
  const rest = afterPrefix(line, '+CUSD');
  if (rest === undefined) return fail('not a +CUSD line');
  const f = splitParams(rest);
  const mode = toInt(f[0]?.text);
  if (mode === undefined) return fail(`+CUSD without a mode: ${line.trim()}`);
  const out: UssdReply = { mode };
  const dcs = toInt(f[2]?.text);
  if (dcs !== undefined) out.dcs = dcs;
  const raw = f[1]?.text;
  if (raw === undefined) return out;
  out.raw = raw;
  const alphabet = cbsAlphabet(dcs);
  if (alphabet === 'ucs2' && decodeUcs2Hex(raw) !== undefined) out.text = decodeUcs2Hex(raw);
  else if (alphabet === 'gsm7' && opts.packedHex && /^([0-9A-Fa-f]{2})+$/.test(raw)) {
    const bytes = Buffer.from(raw, 'hex');
    const septets = unpackSeptets(bytes, Math.floor((bytes.length * 8) / 7));
    // Seven spare bits at the end are padding: a CR (TS 23.038 §6.1.2.3.1) or zeros.
    if ((bytes.length * 8) % 7 === 0 && (septets[septets.length - 1] === 0x0d || septets[septets.length - 1] === 0)) septets.pop();
    out.text = gsm7Decode(septets);
  } else out.text = decodeTeString(raw, opts.charset);
  return out;
}
