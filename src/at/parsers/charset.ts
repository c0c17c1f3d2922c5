/**
 * Character sets a module speaks: the GSM 7-bit default alphabet with its extension table
 * (3GPP TS 23.038 §6.2.1), septet packing (§6.1.2.1), UCS-2 as hex text, and the TE character
 * set chosen with AT+CSCS, which decides how every string parameter arrives (at-commands.md §3.5):
 *
 *   CSCS "IRA"/"8859-1"  text as is
 *   CSCS "GSM"           one byte per septet: '@' on the wire (0x40) is '¡' (ZTE MF627, §1.4)
 *   CSCS "UCS2"          every string, even digits, as UCS-2 hex (u-blox LARA +COPS, §1.4)
 *
 * Used by the response parsers and by the SMS PDU codec (src/at/pdu.ts).
 */

/** TS 23.038 §6.2.1 default alphabet, indexed by septet; 0x1B is the escape to the extension table. */
export const GSM7_DEFAULT =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** TS 23.038 §6.2.1.1 extension table (after ESC 0x1B). */
export const GSM7_EXTENSION: ReadonlyMap<number, string> = new Map([
  [0x0a, '\f'], [0x14, '^'], [0x28, '{'], [0x29, '}'], [0x2f, '\\'],
  [0x3c, '['], [0x3d, '~'], [0x3e, ']'], [0x40, '|'], [0x65, '€'],
]);

const GSM7_ESCAPE = 0x1b;

const ENCODE_DEFAULT = new Map<string, number>();
for (let i = 0; i < GSM7_DEFAULT.length; i++) if (i !== GSM7_ESCAPE) ENCODE_DEFAULT.set(GSM7_DEFAULT[i]!, i);
const ENCODE_EXTENSION = new Map<string, number>();
for (const [code, ch] of GSM7_EXTENSION) ENCODE_EXTENSION.set(ch, code);

/**
 * Septets (one per element, 0..127) to text. An escape followed by a code the extension table
 * lacks shows the default-table character, as §6.2.1.1 asks of a receiver; a trailing lone
 * escape is dropped.
 */
export function gsm7Decode(septets: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < septets.length; i++) {
    const s = (septets[i] ?? 0) & 0x7f;
    if (s === GSM7_ESCAPE) {
      if (i + 1 >= septets.length) break;
      const next = (septets[++i] ?? 0) & 0x7f;
      out += GSM7_EXTENSION.get(next) ?? GSM7_DEFAULT[next] ?? '';
      continue;
    }
    out += GSM7_DEFAULT[s] ?? '';
  }
  return out;
}

/** Text to septets (extension characters take two); undefined when a character has no GSM 7-bit form. */
export function gsm7Encode(text: string): number[] | undefined {
  const out: number[] = [];
  for (const ch of text) {
    const d = ENCODE_DEFAULT.get(ch);
    if (d !== undefined) {
      out.push(d);
      continue;
    }
    const e = ENCODE_EXTENSION.get(ch);
    if (e === undefined) return undefined;
    out.push(GSM7_ESCAPE, e);
  }
  return out;
}

/**
 * Pack septets into octets, least significant bit first (TS 23.038 §6.1.2.1.1). `fillBits`
 * leading zero bits come first: the padding that aligns text after a user-data header.
 * 7 septets leave one whole byte with a single bit: the length, not the bytes, says how many
 * septets there are (MM test-charsets.c "7-chars").
 */
export function packSeptets(septets: ArrayLike<number>, fillBits = 0): Buffer {
  const out = Buffer.alloc(Math.ceil((fillBits + septets.length * 7) / 8));
  for (let i = 0; i < septets.length; i++) {
    const s = (septets[i] ?? 0) & 0x7f;
    const bit = fillBits + i * 7;
    const byte = bit >> 3;
    const shift = bit & 7;
    out[byte] = (out[byte]! | (s << shift)) & 0xff;
    if (shift > 1) out[byte + 1] = (out[byte + 1]! | (s >> (8 - shift))) & 0xff;
  }
  return out;
}

/** `count` septets from packed octets starting `fillBits` in; stops early when the bytes run out. */
export function unpackSeptets(bytes: ArrayLike<number>, count: number, fillBits = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const bit = fillBits + i * 7;
    const byte = bit >> 3;
    if (byte >= bytes.length) break;
    const shift = bit & 7;
    let v = (bytes[byte] ?? 0) >> shift;
    if (shift > 1) {
      if (byte + 1 >= bytes.length) break;
      v |= (bytes[byte + 1] ?? 0) << (8 - shift);
    }
    out.push(v & 0x7f);
  }
  return out;
}

/** Semi-octet digits of addresses: low nibble first; 0xA–0xE are `* # a b c`, 0xF is filler (TS 23.040 §9.1.2.3). */
const SEMI_OCTETS = '0123456789*#abc';

/** Up to `count` semi-octet digits; stops at a 0xF filler. */
export function decodeSemiOctets(bytes: ArrayLike<number>, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    const b = bytes[i >> 1] ?? 0xff;
    const nibble = i % 2 === 0 ? b & 0x0f : b >> 4;
    if (nibble === 0x0f) break;
    out += SEMI_OCTETS[nibble];
  }
  return out;
}

/** Digits (`0-9*#abc`) as semi-octets, padded with 0xF; throws RangeError on any other character (encoders only). */
export function encodeSemiOctets(digits: string): Buffer {
  const out = Buffer.alloc(Math.ceil(digits.length / 2), 0xff);
  for (let i = 0; i < digits.length; i++) {
    const v = SEMI_OCTETS.indexOf(digits[i]!);
    if (v < 0) throw new RangeError(`'${digits[i]}' is not a semi-octet digit`);
    out[i >> 1] = i % 2 === 0 ? (out[i >> 1]! & 0xf0) | v : (out[i >> 1]! & 0x0f) | (v << 4);
  }
  return out;
}

/** UCS-2 / UTF-16 big-endian bytes to text (surrogate pairs pass through, as handsets send emoji). */
export function ucs2Decode(bytes: Uint8Array): string {
  const even = bytes.length - (bytes.length % 2);
  const le = Buffer.from(bytes.subarray(0, even));
  le.swap16();
  return le.toString('utf16le');
}

export function ucs2Encode(text: string): Buffer {
  const b = Buffer.from(text, 'utf16le');
  b.swap16();
  return b;
}

/** Is this a plausible UCS-2 hex string (hex digits, a multiple of four)? */
export function isUcs2Hex(s: string): boolean {
  return s.length > 0 && s.length % 4 === 0 && /^[0-9A-Fa-f]+$/.test(s);
}

/** `0054002D004D006F00620069006C0065` → `T-Mobile` (MM test-charsets.c); undefined when not hex. */
export function decodeUcs2Hex(hex: string): string | undefined {
  if (!isUcs2Hex(hex)) return undefined;
  return ucs2Decode(Buffer.from(hex, 'hex'));
}

export function encodeUcs2Hex(text: string): string {
  return ucs2Encode(text).toString('hex').toUpperCase();
}

/** The TE character set of AT+CSCS, as far as parsing cares. */
export type TeCharset = 'IRA' | 'GSM' | 'UCS2' | 'HEX' | 'PCCP437' | '8859-1' | 'UTF-8';

/**
 * A string parameter as the module sent it under `charset`, as text. Under "UCS2" a value that
 * is not hex is kept as sent (some firmwares leave digits alone); under "GSM" each byte is a
 * septet of the default alphabet, so `AT&T@` reads `AT&T¡` (ZTE MF627, §1.4).
 */
export function decodeTeString(s: string, charset: TeCharset | undefined): string {
  if (charset === 'UCS2') return decodeUcs2Hex(s) ?? s;
  if (charset === 'GSM') {
    const septets: number[] = [];
    for (const ch of s) {
      const c = ch.codePointAt(0) ?? 0;
      if (c > 0x7f) return s;
      septets.push(c);
    }
    return gsm7Decode(septets);
  }
  return s;
}
