/**
 * SMS PDUs as +CMGL/+CMGR/+CMT give them (3GPP TS 23.040), decoded; concatenated parts joined;
 * and an SMS-DELIVER encoder for the simulated modem's inbox.
 *
 *   [SMSC: len type digits] first-octet ─┬─ DELIVER: OA  PID DCS SCTS(7)        UDL UD
 *                                        ├─ SUBMIT:  MR DA PID DCS [VP]         UDL UD   (stored to send)
 *                                        └─ STATUS-REPORT: MR RA SCTS DT ST             (no text)
 *   UD = [UDHL IE…][fill bits] text      GSM 7-bit packed (UDL in septets), UCS-2 or 8-bit (UDL in octets)
 *
 * Vectors: at-commands.md §1.9 (ModemManager src/tests/test-sms-part-3gpp.c, test-charsets.c).
 * Decoding never throws: a malformed PDU is `{ error: reason }` (MM's invalid-PDU tests, §1.9).
 */
import {
  decodeSemiOctets, encodeSemiOctets, gsm7Decode, gsm7Encode, packSeptets, ucs2Decode, ucs2Encode, unpackSeptets,
} from './parsers/charset.js';
import { fail, type Parsed } from './parsers/common.js';
import { decodeScts, encodeScts, type SmsTimestamp } from './parsers/timestamp.js';

export type { SmsTimestamp } from './parsers/timestamp.js';

export interface SmsAddress {
  /** Digits with `+` for international numbers, or the text of an alphanumeric sender. */
  number: string;
  /** Type of number (3 bits: 1 international, 2 national, 5 alphanumeric) and numbering plan. */
  ton: number;
  npi: number;
}

/** A concatenation information element: 0x00 (8-bit reference) or 0x08 (16-bit reference), TS 23.040 §9.2.3.24.1/.8. */
export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
  refBits: 8 | 16;
}

export interface InformationElement {
  iei: number;
  /** IE data, hex. */
  data: string;
}

export type SmsEncoding = 'gsm7' | 'ucs2' | '8bit';

interface SmsBody {
  smsc?: string;
  firstOctet: number;
  udhi: boolean;
  pid: number;
  dcs: number;
  encoding: SmsEncoding;
  /** DCS says compressed (TS 23.038 §4): no text is given, only `data`. */
  compressed: boolean;
  messageClass?: number;
  /** UDL as sent: septets for GSM 7-bit, octets otherwise. */
  udl: number;
  udh: InformationElement[];
  concat?: ConcatInfo;
  /** Text for GSM 7-bit and UCS-2 (header removed). */
  text?: string;
  /** User data after the header, hex, for 8-bit and compressed messages. */
  data?: string;
}

export interface SmsDeliverPdu extends SmsBody {
  type: 'deliver';
  originator: SmsAddress;
  timestamp: SmsTimestamp;
  /** TP-MMS clear: the service centre has more messages waiting. */
  moreMessagesToSend: boolean;
}

export interface SmsSubmitPdu extends SmsBody {
  type: 'submit';
  messageReference: number;
  destination: SmsAddress;
  /** TP-VP as sent, hex (absent when TP-VPF says none). */
  validityPeriod?: string;
}

export interface SmsStatusReportPdu {
  type: 'status-report';
  smsc?: string;
  firstOctet: number;
  messageReference: number;
  recipient: SmsAddress;
  timestamp: SmsTimestamp;
  dischargeTime: SmsTimestamp;
  status: number;
}

export type SmsPdu = SmsDeliverPdu | SmsSubmitPdu | SmsStatusReportPdu;

/** Thrown only inside this module and turned into `{ error }` by decodePdu. */
class PduError extends Error {}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  u8(what: string): number {
    if (this.pos >= this.buf.length) throw new PduError(`PDU ends before ${what} (offset ${this.pos})`);
    return this.buf[this.pos++]!;
  }
  take(n: number, what: string): Buffer {
    if (this.pos + n > this.buf.length) throw new PduError(`PDU ends inside ${what} (needs ${n} bytes at offset ${this.pos})`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

function sctsOf(r: Reader, what: string): SmsTimestamp {
  const t = decodeScts(r.take(7, what));
  if (typeof t === 'string') throw new PduError(`${what} ${t}`);
  return t;
}

/** Originating/destination address: length counts useful semi-octets (TS 23.040 §9.1.2.5). */
function readAddress(r: Reader, what: string): SmsAddress {
  const len = r.u8(`${what} length`);
  if (len > 20) throw new PduError(`${what} length ${len} exceeds 20 semi-octets`);
  const type = r.u8(`${what} type`);
  const bytes = r.take(Math.ceil(len / 2), what);
  const ton = (type >> 4) & 0x07;
  const npi = type & 0x0f;
  // Alphanumeric (TON 101): GSM 7-bit packed, `len` semi-octets = floor(len·4/7) septets ("InternetSMS").
  if (ton === 5) return { number: gsm7Decode(unpackSeptets(bytes, Math.floor((len * 4) / 7))), ton, npi };
  const digits = decodeSemiOctets(bytes, len);
  return { number: ton === 1 && digits ? `+${digits}` : digits, ton, npi };
}

/** SMSC: length in octets including the type octet; 0 means none (TS 24.011 RP address). */
function readSmsc(r: Reader): string | undefined {
  const len = r.u8('SMSC length');
  if (len === 0) return undefined;
  if (len > 12) throw new PduError(`SMSC length ${len} exceeds 12 octets`);
  const type = r.u8('SMSC type');
  const bytes = r.take(len - 1, 'SMSC address');
  const digits = decodeSemiOctets(bytes, (len - 1) * 2);
  return ((type >> 4) & 0x07) === 1 ? `+${digits}` : digits;
}

/** TP-DCS (TS 23.038 §4): alphabet, compression, class. Reserved groups read as GSM 7-bit. */
function readDcs(dcs: number): { encoding: SmsEncoding; compressed: boolean; messageClass?: number } {
  const group = dcs >> 4;
  if (group <= 0x07) {
    const alphabet = (['gsm7', '8bit', 'ucs2', 'gsm7'] as const)[(dcs >> 2) & 3];
    const out: { encoding: SmsEncoding; compressed: boolean; messageClass?: number } = { encoding: alphabet, compressed: (dcs & 0x20) !== 0 };
    if (dcs & 0x10) out.messageClass = dcs & 3;
    return out;
  }
  if (group === 0x0f) return { encoding: dcs & 0x04 ? '8bit' : 'gsm7', compressed: false, messageClass: dcs & 3 };
  if (group === 0x0e) return { encoding: 'ucs2', compressed: false };
  return { encoding: 'gsm7', compressed: false };
}

/** TP-UDL and TP-UD: the header's IEs, concatenation, then text or data. */
function readUserData(r: Reader, dcs: number, udhi: boolean): Omit<SmsBody, 'smsc' | 'firstOctet' | 'pid'> {
  const { encoding, compressed, messageClass } = readDcs(dcs);
  const udl = r.u8('TP-UDL');
  const septets = encoding === 'gsm7' && !compressed;
  const octets = septets ? Math.ceil((udl * 7) / 8) : udl;
  if (!septets && udl > 140) throw new PduError(`TP-UDL ${udl} exceeds 140 octets`);
  if (septets && udl > 160) throw new PduError(`TP-UDL ${udl} exceeds 160 septets`);
  const ud = r.take(octets, 'user data (shorter than TP-UDL says)');
  const out: Omit<SmsBody, 'smsc' | 'firstOctet' | 'pid'> = { udhi, dcs, encoding, compressed, udl, udh: [] };
  if (messageClass !== undefined) out.messageClass = messageClass;
  let headerOctets = 0;
  if (udhi) {
    const udhl = ud[0] ?? 0;
    headerOctets = udhl + 1;
    if (headerOctets > ud.length) throw new PduError(`user-data header length ${udhl} overruns the user data`);
    for (let i = 1; i < headerOctets;) {
      const iei = ud[i]!;
      const len = ud[i + 1];
      if (len === undefined || i + 2 + len > headerOctets) throw new PduError(`header element 0x${iei.toString(16)} overruns the header`);
      const data = ud.subarray(i + 2, i + 2 + len);
      out.udh.push({ iei, data: data.toString('hex').toUpperCase() });
      if (iei === 0x00 && len === 3 && data[1]! > 0 && data[2]! > 0 && data[2]! <= data[1]!) {
        out.concat = { ref: data[0]!, total: data[1]!, seq: data[2]!, refBits: 8 };
      } else if (iei === 0x08 && len === 4 && data[2]! > 0 && data[3]! > 0 && data[3]! <= data[2]!) {
        out.concat = { ref: data.readUInt16BE(0), total: data[2]!, seq: data[3]!, refBits: 16 };
      }
      i += 2 + len;
    }
  }
  if (septets) {
    // The header plus fill bits occupy exactly ceil(octets·8/7) septets (TS 23.040 §9.2.3.24).
    const skip = Math.ceil((headerOctets * 8) / 7);
    out.text = gsm7Decode(unpackSeptets(ud, udl).slice(skip));
  } else if (encoding === 'ucs2' && !compressed) {
    out.text = ucs2Decode(ud.subarray(headerOctets));
  } else {
    out.data = ud.subarray(headerOctets).toString('hex').toUpperCase();
  }
  return out;
}

/**
 * Decode a hex PDU. As listed by +CMGL/+CMGR the PDU starts with the SMSC address; pass
 * `tpduLength` (the listing's <length>) so a PDU stored without it is also read right.
 */
export function decodePdu(hex: string, opts: { tpduLength?: number } = {}): Parsed<SmsPdu> {
  const clean = hex.trim();
  if (!/^([0-9A-Fa-f]{2})+$/.test(clean)) return fail('PDU is not an even number of hex digits');
  const buf = Buffer.from(clean, 'hex');
  try {
    const r = new Reader(buf);
    const smsc = opts.tpduLength === buf.length ? undefined : readSmsc(r);
    const firstOctet = r.u8('first octet');
    const mti = firstOctet & 0x03;
    const udhi = (firstOctet & 0x40) !== 0;
    const withSmsc = <T extends object>(v: T): T => (smsc === undefined ? v : { smsc, ...v });
    if (mti === 0) {
      const originator = readAddress(r, 'originating address');
      const pid = r.u8('TP-PID');
      const dcs = r.u8('TP-DCS');
      const timestamp = sctsOf(r, 'TP-SCTS');
      const body = readUserData(r, dcs, udhi);
      return withSmsc({ type: 'deliver' as const, firstOctet, pid, originator, timestamp, moreMessagesToSend: (firstOctet & 0x04) === 0, ...body });
    }
    if (mti === 1) {
      const messageReference = r.u8('TP-MR');
      const destination = readAddress(r, 'destination address');
      const pid = r.u8('TP-PID');
      const dcs = r.u8('TP-DCS');
      const vpf = (firstOctet >> 3) & 0x03;
      const vp = vpf === 0 ? undefined : r.take(vpf === 2 ? 1 : 7, 'TP-VP');
      const body = readUserData(r, dcs, udhi);
      const out: SmsSubmitPdu = withSmsc({ type: 'submit' as const, firstOctet, messageReference, destination, pid, ...body });
      if (vp) out.validityPeriod = vp.toString('hex').toUpperCase();
      return out;
    }
    if (mti === 2) {
      const messageReference = r.u8('TP-MR');
      const recipient = readAddress(r, 'recipient address');
      const timestamp = sctsOf(r, 'TP-SCTS');
      const dischargeTime = sctsOf(r, 'TP-DT');
      const status = r.u8('TP-ST');
      return withSmsc({ type: 'status-report' as const, firstOctet, messageReference, recipient, timestamp, dischargeTime, status });
    }
    return fail('first octet has the reserved message type 3');
  } catch (e) {
    if (e instanceof PduError) return fail(e.message);
    throw e;
  }
}

export interface AssembledSms {
  type: 'deliver' | 'submit';
  /** Originator of received messages, destination of stored outgoing ones. */
  peer: string;
  concat?: { ref: number; refBits: 8 | 16; total: number };
  /** Positions in the input array of the parts found, in sequence order. */
  members: number[];
  /** Sequence numbers (1-based) not found. */
  missing: number[];
  /** Parts found twice (same sequence number); the first is used. */
  duplicates: number;
  complete: boolean;
  /** The present parts' text in order; a gap is not filled in, see `missing`. */
  text: string;
  /** Timestamp of the lowest part present (DELIVER only). */
  timestamp?: SmsTimestamp;
}

/**
 * Join concatenated parts by (type, peer, reference, total), in sequence order. Parts may come
 * out of order and through different SMSCs (MM's multipart test, §3.5); single messages pass
 * through as complete one-part messages. Output follows the first appearance of each message.
 */
export function reassemble(parts: ReadonlyArray<SmsDeliverPdu | SmsSubmitPdu>): AssembledSms[] {
  const groups = new Map<string, { first: SmsDeliverPdu | SmsSubmitPdu; bySeq: Map<number, number>; dup: number }>();
  const order: string[] = [];
  parts.forEach((p, i) => {
    const peer = p.type === 'deliver' ? p.originator.number : p.destination.number;
    const c = p.concat;
    const key = c ? `${p.type}|${peer}|${c.refBits}:${c.ref}|${c.total}` : `single|${i}`;
    let g = groups.get(key);
    if (!g) {
      g = { first: p, bySeq: new Map(), dup: 0 };
      groups.set(key, g);
      order.push(key);
    }
    const seq = c ? c.seq : 1;
    if (g.bySeq.has(seq)) g.dup++;
    else g.bySeq.set(seq, i);
  });
  return order.map((key) => {
    const g = groups.get(key)!;
    const c = g.first.concat;
    const total = c ? c.total : 1;
    const members: number[] = [];
    const missing: number[] = [];
    for (let s = 1; s <= total; s++) {
      const i = g.bySeq.get(s);
      if (i === undefined) missing.push(s);
      else members.push(i);
    }
    const first = parts[members[0]!]!;
    const out: AssembledSms = {
      type: first.type,
      peer: first.type === 'deliver' ? first.originator.number : first.destination.number,
      members, missing, duplicates: g.dup, complete: missing.length === 0,
      text: members.map((i) => parts[i]!.text ?? '').join(''),
    };
    if (c) out.concat = { ref: c.ref, refBits: c.refBits, total };
    if (first.type === 'deliver') out.timestamp = first.timestamp;
    return out;
  });
}

export interface DeliverSpec {
  /** Service centre, `+8613800551500`; omitted → an SMSC length of 0. */
  smsc?: string;
  /** `+8613912345678`, `1069…` (national/unknown type) or an alphanumeric sender (≤ 11 GSM characters). */
  originator: string;
  text: string;
  /** Default: GSM 7-bit when every character has a GSM form, else UCS-2. */
  encoding?: 'gsm7' | 'ucs2';
  /** Service-centre time with its zone, ISO 8601: `2024-05-01T10:00:00+08:00` (whole quarter hours). */
  timestamp: string;
  pid?: number;
  messageClass?: 0 | 1 | 2 | 3;
  concat?: { ref: number; total: number; seq: number; refBits?: 8 | 16 };
  moreMessagesToSend?: boolean;
}

function encodeAddress(addr: string): Buffer {
  if (/^\+?[0-9*#]{1,20}$/.test(addr)) {
    const digits = addr.replace(/^\+/, '');
    return Buffer.concat([Buffer.from([digits.length, addr.startsWith('+') ? 0x91 : 0x81]), encodeSemiOctets(digits)]);
  }
  const septets = gsm7Encode(addr);
  if (!septets || septets.length > 11) throw new RangeError(`alphanumeric sender '${addr}' is not ≤ 11 GSM characters`);
  return Buffer.concat([Buffer.from([Math.ceil((septets.length * 7) / 4), 0xd0]), packSeptets(septets)]);
}

/** SMSC as +CMGL lists it: length in octets (type octet included), type, semi-octets; 00 when absent. */
function encodeSmsc(addr: string | undefined): Buffer {
  if (!addr) return Buffer.from([0]);
  if (!/^\+?\d{1,20}$/.test(addr)) throw new RangeError(`SMSC '${addr}' is not a number`);
  const digits = encodeSemiOctets(addr.replace(/^\+/, ''));
  return Buffer.concat([Buffer.from([digits.length + 1, addr.startsWith('+') ? 0x91 : 0x81]), digits]);
}

/** One SMS-DELIVER PDU, hex uppercased, SMSC first (as +CMGL lists it). Throws RangeError on what cannot be encoded. */
export function encodeSmsDeliver(spec: DeliverSpec): string {
  const septets = spec.encoding === 'ucs2' ? undefined : gsm7Encode(spec.text);
  if (spec.encoding === 'gsm7' && !septets) throw new RangeError('text has characters without a GSM 7-bit form');
  const c = spec.concat;
  const udh = c
    ? c.refBits === 16
      ? Buffer.from([6, 0x08, 4, (c.ref >> 8) & 0xff, c.ref & 0xff, c.total, c.seq])
      : Buffer.from([5, 0x00, 3, c.ref & 0xff, c.total, c.seq])
    : Buffer.alloc(0);
  let ud: Buffer;
  let udl: number;
  let dcs: number;
  if (septets) {
    const fill = (7 - ((udh.length * 8) % 7)) % 7;
    udl = Math.ceil((udh.length * 8) / 7) + septets.length;
    if (udl > 160) throw new RangeError(`text needs ${udl} septets, more than 160`);
    ud = Buffer.concat([udh, packSeptets(septets, fill)]);
    dcs = 0x00;
  } else {
    ud = Buffer.concat([udh, ucs2Encode(spec.text)]);
    udl = ud.length;
    if (udl > 140) throw new RangeError(`text needs ${udl} octets, more than 140`);
    dcs = 0x08;
  }
  if (spec.messageClass !== undefined) dcs |= 0x10 | spec.messageClass;
  const first = (c ? 0x40 : 0) | (spec.moreMessagesToSend ? 0 : 0x04);
  const smsc = encodeSmsc(spec.smsc);
  const tpdu = Buffer.concat([
    Buffer.from([first]), encodeAddress(spec.originator), Buffer.from([spec.pid ?? 0, dcs]),
    encodeScts(spec.timestamp), Buffer.from([udl]), ud,
  ]);
  return Buffer.concat([smsc, tpdu]).toString('hex').toUpperCase();
}

/**
 * Split a long text into concatenated SMS-DELIVER parts (8-bit reference `ref`): 153 septets or
 * 67 UCS-2 units per part, never splitting an escape pair or a surrogate pair. Short text gives
 * one PDU without a header.
 */
export function encodeSmsDeliverParts(spec: Omit<DeliverSpec, 'concat'>, ref: number): string[] {
  const gsm = spec.encoding === 'ucs2' ? undefined : gsm7Encode(spec.text);
  const single = gsm ? gsm.length <= 160 : spec.text.length <= 70;
  if (single) return [encodeSmsDeliver(spec)];
  const chunks: string[] = [];
  let cur = '';
  let size = 0;
  for (const ch of spec.text) {
    const w = gsm ? gsm7Encode(ch)!.length : ch.length;
    if (size + w > (gsm ? 153 : 67)) {
      chunks.push(cur);
      cur = '';
      size = 0;
    }
    cur += ch;
    size += w;
  }
  if (cur) chunks.push(cur);
  if (chunks.length > 255) throw new RangeError('text needs more than 255 parts');
  return chunks.map((text, i) => encodeSmsDeliver({
    ...spec, text, encoding: gsm ? 'gsm7' : 'ucs2', concat: { ref, total: chunks.length, seq: i + 1 },
  }));
}
