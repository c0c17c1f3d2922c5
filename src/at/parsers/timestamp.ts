/**
 * SMS timestamps: the text-mode form `yy/MM/dd,hh:mm:ss±zz` and the 7-octet TP-SCTS of a PDU
 * (3GPP TS 23.040 §9.2.3.11). Both carry the zone in quarter hours (`+32` = UTC+8, Chinese
 * service SMS, at-commands.md §3.5); it is kept, as the evidence states it.
 */

const pad2 = (n: number): string => String(n).padStart(2, '0');

export interface SmsTimestamp {
  /** Local time of the service centre with its zone, ISO 8601. */
  iso: string;
  offsetMinutes: number;
  epochMs: number;
}

/**
 * A text-mode SMS timestamp `yy/MM/dd,hh:mm:ss±zz` (zone in quarter hours: `+32` is UTC+8,
 * §1.8, §3.5) as ISO 8601 with the offset kept; undefined when it is not one.
 */
export function parseTextTimestamp(s: string): SmsTimestamp | undefined {
  const m = /^(\d{2})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})(?:([+-])(\d{1,2}))?$/.exec(s.trim());
  if (!m) return undefined;
  const [yy, mo, dd, hh, mi, ss] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 59) return undefined;
  const quarters = m[8] === undefined ? 0 : Number(m[8]);
  const offsetMinutes = quarters === 0 ? 0 : (m[7] === '-' ? -1 : 1) * quarters * 15;
  return {
    iso: `${2000 + yy}-${pad2(mo)}-${pad2(dd)}T${pad2(hh)}:${pad2(mi)}:${pad2(ss)}${formatOffset(offsetMinutes)}`,
    offsetMinutes,
    epochMs: Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss) - offsetMinutes * 60_000,
  };
}

/** `+08:00`, `-05:00`, `+00:00`. */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * TP-SCTS / TP-DT: swapped-BCD YY MM DD hh mm ss, then the zone in quarter hours with bit 3 of
 * the octet as its sign. Returns why when a digit is not decimal or the date is impossible.
 */
export function decodeScts(b: ArrayLike<number>): SmsTimestamp | string {
  if (b.length < 7) return 'is shorter than 7 octets';
  const f: number[] = [];
  for (let i = 0; i < 6; i++) {
    const lo = b[i]! & 0x0f;
    const hi = b[i]! >> 4;
    if (lo > 9 || hi > 9) return 'has a non-decimal digit';
    f.push(lo * 10 + hi);
  }
  const tz = b[6]!;
  if (tz >> 4 > 9) return 'zone has a non-decimal digit';
  const quarters = (tz & 0x07) * 10 + (tz >> 4);
  const offsetMinutes = quarters === 0 ? 0 : ((tz & 0x08) ? -1 : 1) * quarters * 15;
  const [yy, mo, dd, hh, mi, ss] = f as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 59) return 'is not a valid date';
  return {
    iso: `${2000 + yy}-${pad2(mo)}-${pad2(dd)}T${pad2(hh)}:${pad2(mi)}:${pad2(ss)}${formatOffset(offsetMinutes)}`,
    offsetMinutes,
    epochMs: Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss) - offsetMinutes * 60_000,
  };
}

/** ISO 8601 with a zone (`2024-05-01T10:00:00+08:00`) as TP-SCTS; throws RangeError otherwise (encoders only). */
export function encodeScts(iso: string): Buffer {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(iso);
  if (!m) throw new RangeError(`timestamp '${iso}' is not ISO 8601 with a zone`);
  const offset = m[7] === 'Z' ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  if (offset % 15 !== 0) throw new RangeError(`zone of '${iso}' is not whole quarter hours`);
  const swap = (n: number): number => ((n % 10) << 4) | Math.floor(n / 10);
  const fields = [Number(m[1]) % 100, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  return Buffer.from([...fields.map(swap), swap(Math.abs(offset) / 15) | (offset < 0 ? 0x08 : 0)]);
}
