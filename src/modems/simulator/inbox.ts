/**
 * SMS inboxes as a pool SIM used for bulk account registration has them: verification codes from
 * QQ, WeChat, Alipay, Taobao, Douyin and JD, a few minutes apart (DESIGN.md §1).
 *
 *   template + code + sender ──► InboxMessage ──► split (70/67 UCS-2, 160/153 GSM-7)
 *                                                     └─► encodeDeliver per part ──► StoredSms (index, stat, PDU)
 *
 * PDUs are made by the shared encoder of src/at/pdu.ts (encodeSmsDeliver), the same module the
 * dump decodes them with.
 *
 * SYNTHETIC: the wording follows the 【签名】…验证码… shape of such messages; the texts and
 * sender numbers (10690…/1069… SP numbers, 95188) are made up for tests, not copied from a
 * capture. Long messages become concatenated UCS-2 parts (8-bit reference UDH), sometimes
 * stored out of order, as at-commands.md §6.8 asks.
 */
import { encodeSmsDeliver } from '../../at/pdu.js';
import { gsm7Encode } from '../../at/parsers/charset.js';
import type { Rng } from './random.js';
import type { SmsStatus, StoredSms } from './types.js';

/** A service-centre time as the module shows it, zone in quarter hours (China: +32, §3.5). */
export interface SmsTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  zoneQuarters: number;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** Text-mode form "yy/MM/dd,hh:mm:ss+zz" (§1.8 Gammu samples, §3.5). */
export function textTimestamp(t: SmsTime): string {
  const zone = `${t.zoneQuarters < 0 ? '-' : '+'}${two(Math.abs(t.zoneQuarters))}`;
  return `${two(t.year % 100)}/${two(t.month)}/${two(t.day)},${two(t.hour)}:${two(t.minute)}:${two(t.second)}${zone}`;
}

/** ISO 8601 with the zone, as encodeSmsDeliver takes it. */
export function isoTimestamp(t: SmsTime): string {
  const minutes = Math.abs(t.zoneQuarters) * 15;
  const zone = `${t.zoneQuarters < 0 ? '-' : '+'}${two(Math.floor(minutes / 60))}:${two(minutes % 60)}`;
  return `${t.year}-${two(t.month)}-${two(t.day)}T${two(t.hour)}:${two(t.minute)}:${two(t.second)}${zone}`;
}

/** The time `epochMs` shown in a zone of `zoneQuarters` quarter hours. */
export function smsTimeAt(epochMs: number, zoneQuarters: number): SmsTime {
  const d = new Date(epochMs + zoneQuarters * 15 * 60_000);
  return {
    year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(),
    hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), zoneQuarters,
  };
}

export interface InboxMessage {
  platform: string;
  sender: string;
  text: string;
  code: string;
  timestamp: SmsTime;
  status: SmsStatus;
}

interface Template {
  platform: string;
  sender: (rng: Rng) => string;
  codeLength: number;
  text: (code: string) => string;
}

export const TEMPLATES: readonly Template[] = [
  {
    platform: 'qq', codeLength: 6, sender: (r) => `10690${r.digits(6)}`,
    text: (c) => `【腾讯科技】你正在登录QQ，验证码${c}，5分钟内有效。验证码提供给他人可能导致QQ被盗，请勿泄露，谨防被骗。`,
  },
  {
    platform: 'wechat', codeLength: 6, sender: (r) => `10690${r.digits(7)}`,
    text: (c) => `【腾讯科技】${c}（微信验证码）。工作人员不会向你索要，请勿向任何人泄露，以免造成账户或资金损失。`,
  },
  {
    platform: 'alipay', codeLength: 6, sender: () => '95188',
    text: (c) =>
      `【支付宝】验证码${c}，您正在注册成为新用户，感谢您的支持！如非本人操作，请忽略本短信。验证码10分钟内有效，请勿泄露给他人，支付宝工作人员不会向您索要验证码。`,
  },
  {
    platform: 'taobao', codeLength: 6, sender: (r) => `1069${r.digits(8)}`,
    text: (c) => `【淘宝网】验证码${c}，您正在进行身份验证，打死不要告诉别人哦！`,
  },
  {
    platform: 'douyin', codeLength: 4, sender: (r) => `1069${r.digits(9)}`,
    text: (c) => `【抖音】验证码${c}，用于手机验证码登录，5分钟内有效。验证码提供给他人可能导致帐号被盗，请勿泄露，谨防被骗。`,
  },
  {
    platform: 'jd', codeLength: 6, sender: (r) => `1069${r.digits(7)}`,
    text: (c) =>
      `【京东】验证码：${c}，您正在新设备上登录。请确认本人操作，切勿向他人泄露，京东工作人员不会以任何理由向您索取验证码。如非本人操作，请忽略本短信。`,
  },
  {
    // A GSM 7-bit message from an alphanumeric sender, so PDU listings mix both codings.
    platform: 'telegram', codeLength: 5, sender: () => 'Telegram',
    text: (c) => `Telegram code: ${c}\n\nYou can also tap on this link to log in:\nhttps://t.me/login/${c}`,
  },
];

/** Default start of an inbox: 2024-03-18 09:12:05 +08:00 (any fixed instant keeps tests stable). */
export const DEFAULT_INBOX_START = Date.UTC(2024, 2, 18, 1, 12, 5);

/** `count` verification-code messages, oldest first, a few minutes apart (bulk registration pace). */
export function makeVerificationMessages(rng: Rng, count: number, startMs = DEFAULT_INBOX_START): InboxMessage[] {
  const out: InboxMessage[] = [];
  let t = startMs + rng.int(0, 3_600_000);
  for (let i = 0; i < count; i++) {
    // Mostly Chinese platforms; the 7-bit template about one message in ten.
    const tpl = rng.chance(0.1) ? (TEMPLATES[TEMPLATES.length - 1] as Template) : rng.pick(TEMPLATES.slice(0, -1));
    const code = rng.digits(tpl.codeLength).replace(/^0/, String(rng.int(1, 9)));
    out.push({
      platform: tpl.platform, sender: tpl.sender(rng), text: tpl.text(code), code,
      timestamp: smsTimeAt(t, 32), status: rng.chance(0.25) ? 0 : 1,
    });
    t += rng.int(40, 900) * 1000;
  }
  return out;
}

/** Split into SMS parts: 70 UCS-2 characters (67 with a concatenation header), or 160/153 septets. */
export function splitForSms(text: string, ucs2: boolean): string[] {
  const chars = Array.from(text);
  const single = ucs2 ? 70 : 160;
  const multi = ucs2 ? 67 : 153;
  // Counted in characters: escape-table characters (two septets) do not occur in our 7-bit templates.
  if (chars.length <= single) return [text];
  const parts: string[] = [];
  for (let i = 0; i < chars.length; i += multi) parts.push(chars.slice(i, i + multi).join(''));
  return parts;
}

export interface StoreOptions {
  smsc: string;
  indexBase: 0 | 1;
  rng: Rng;
  /** First concatenation reference number (8-bit, wraps). */
  firstReference?: number;
  /** Chance that a multipart message is stored with its parts in reverse order (§6.8). */
  outOfOrderChance?: number;
}

/** Encode messages into storage slots, numbering from indexBase. */
export function storeMessages(messages: readonly InboxMessage[], opts: StoreOptions): StoredSms[] {
  const out: StoredSms[] = [];
  let reference = opts.firstReference ?? opts.rng.int(0, 255);
  for (const m of messages) {
    const ucs2 = gsm7Encode(m.text) === undefined;
    const parts = splitForSms(m.text, ucs2);
    const ref = reference++ & 0xff;
    const encoded = parts.map((text, k) => {
      const concat = parts.length > 1 ? { reference: ref, total: parts.length, sequence: k + 1 } : undefined;
      const hex = encodeSmsDeliver({
        smsc: opts.smsc, originator: m.sender, text, encoding: ucs2 ? 'ucs2' : 'gsm7', timestamp: isoTimestamp(m.timestamp),
        ...(concat ? { concat: { ref: concat.reference, total: concat.total, seq: concat.sequence } } : {}),
      });
      // <length> of +CMGL/+CMGR counts the TPDU only: total octets minus the SMSC field.
      const tpduLength = hex.length / 2 - 1 - parseInt(hex.slice(0, 2), 16);
      return { text, concat, hex, tpduLength };
    });
    if (encoded.length > 1 && opts.rng.chance(opts.outOfOrderChance ?? 0.3)) encoded.reverse();
    for (const e of encoded) {
      out.push({
        index: opts.indexBase + out.length, status: m.status, pdu: e.hex, tpduLength: e.tpduLength, sender: m.sender,
        timestamp: textTimestamp(m.timestamp), text: e.text, ucs2, platform: m.platform, code: m.code,
        ...(e.concat ? { concat: e.concat } : {}),
      });
    }
  }
  return out;
}
