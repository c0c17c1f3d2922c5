/**
 * AT framing and line classification, table-driven from the samples in
 * shared/reference/at-commands.md (each case names its section and the upstream file the bytes
 * come from). Every byte sample is fed whole, byte by byte and in seeded random chunks: the
 * result must not depend on where the serial driver cut the stream.
 */
import { describe, expect, it } from 'vitest';
import {
  AtFramer, classifyFinal, DEFAULT_URCS, escapeAtBytes, isNoiseLine, solicitedNames, unescapeAtText, UrcRegistry, type AtFrame,
} from '../../src/at/framing.js';
import { defaultTimeoutMs } from '../../src/at/timeouts.js';
import { formatTranscriptEntry, parseTranscript, parseTranscriptLine, serialiseTranscript } from '../../src/at/transcript.js';
import type { TranscriptEntry } from '../../src/at/types.js';
import { seededRandom } from '../helpers/random.js';

/** Frames in a comparable form: a prompt is compared without its trailing spaces (see framing.ts). */
type Simple = string;
function simple(frames: AtFrame[]): Simple[] {
  return frames.map((f) => (f.kind === 'line' ? `${f.noise ? 'noise' : 'line'}:${f.text}` : f.kind === 'prompt' ? `prompt:${f.text.trimEnd()}` : `overflow:${f.dropped}`));
}
function frameWhole(input: Buffer): Simple[] {
  const fr = new AtFramer();
  return simple([...fr.push(input), ...fr.flush()]);
}
function frameChunked(input: Buffer, cut: (remaining: number) => number): Simple[] {
  const fr = new AtFramer();
  const out: AtFrame[] = [];
  for (let i = 0; i < input.length; ) {
    const n = Math.max(1, Math.min(input.length - i, cut(input.length - i)));
    out.push(...fr.push(input.subarray(i, i + n)));
    i += n;
  }
  return simple([...out, ...fr.flush()]);
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const CASES: Array<{ name: string; source: string; input: Buffer; want: Simple[] }> = [
  { name: 'plain answer: info line, blank line, OK', source: '§1.11 gsm-port.conf AT+CSQ', input: b('\r\n+CSQ: 17,99\r\n\r\nOK\r\n'), want: ['line:+CSQ: 17,99', 'line:OK'] },
  { name: 'echo ending in a lone CR before the answer', source: '§2.5 u-blox capture AT+UCGED?', input: b('AT+UCGED?\r\r\n+UCGED: 2\r\n6,4,fff,fff\r\n\r\nOK'), want: ['line:AT+UCGED?', 'line:+UCGED: 2', 'line:6,4,fff,fff', 'line:OK'] },
  { name: 'SIMCom \\r\\r\\n line ends', source: '§1.10 test-modem-helpers-simtech.c', input: b('\r\r\n+CRING: VOICE\r\r\n\r\r\n+RXDTMF: 8\r\r\n'), want: ['line:+CRING: VOICE', 'line:+RXDTMF: 8'] },
  { name: 'NO CARRIER after a lone LF', source: '§0.1, §1.2 (MM call-end exemption)', input: b('\nNO CARRIER\r\n'), want: ['line:NO CARRIER'] },
  { name: 'SMS prompt with no newline after it', source: '§1.2 MM regex_sms `\\r\\n>\\s*$`', input: b('AT+CMGS=20\r\r\n> '), want: ['line:AT+CMGS=20', 'prompt:>'] },
  { name: 'prompt without a space', source: '§1.2 (`>\\s*` allows none)', input: b('\r\n>'), want: ['prompt:>'] },
  { name: 'OK then three URCs in one buffer', source: '§3.3 MM test (test-at-serial-port.c)', input: b('\r\nOK\r\n\r\n+CIEV: 7,1\r\n\r\n+CRING: VOICE\r\n\r\n+CLIP: "+0123456789",145,,,,0\r\n'), want: ['line:OK', 'line:+CIEV: 7,1', 'line:+CRING: VOICE', 'line:+CLIP: "+0123456789",145,,,,0'] },
  { name: '+CMT header then text body', source: '§1.8 Quectel manual transcription', input: b('\r\n+CMT: "+8615021012496",,"13/03/18,17:07:21+32",145,4,0,0,"+8613800551500",145,28\r\nThis is a test from Quectel.\r\n'), want: ['line:+CMT: "+8615021012496",,"13/03/18,17:07:21+32",145,4,0,0,"+8613800551500",145,28', 'line:This is a test from Quectel.'] },
  { name: 'Gammu dump: echo on, echo ends with CR', source: '§1.3 gammu tests/at-creg/huawei.dump', input: b('AT+CREG?\r\r\n+CREG: 2,1,4CA,81DE445\r\n\r\nOK\r\n'), want: ['line:AT+CREG?', 'line:+CREG: 2,1,4CA,81DE445', 'line:OK'] },
  { name: 'binary garbage is escaped, marked noise, and does not stop framing', source: 'ours: power-up line noise / baud mismatch (§3.6)', input: Buffer.concat([Buffer.from([0xff, 0x00, 0xfe]), b('\r\nOK\r\n')]), want: ['noise:\\xFF\\x00\\xFE', 'line:OK'] },
  { name: 'a backslash and a tab survive escaping', source: 'ours', input: b('a\\b\tc\r\n'), want: ['line:a\\\\b\\tc'] },
  { name: 'UTF-8 text (Chinese SMS body) is not noise', source: 'ours: text-mode body, §3.5', input: Buffer.concat([Buffer.from('你好', 'utf8'), b('\r\n')]), want: ['line:\\xE4\\xBD\\xA0\\xE5\\xA5\\xBD'] },
  { name: 'unterminated last line comes out on flush', source: 'ours', input: b('\r\n+CPIN: READY'), want: ['line:+CPIN: READY'] },
];

describe('AtFramer', () => {
  for (const c of CASES) {
    it(`${c.name} (${c.source})`, () => {
      expect(frameWhole(c.input)).toEqual(c.want);
      expect(frameChunked(c.input, () => 1)).toEqual(c.want);
      const rnd = seededRandom(c.name.length * 7919);
      for (let k = 0; k < 20; k++) expect(frameChunked(c.input, () => 1 + Math.floor(rnd() * 6))).toEqual(c.want);
    });
  }

  it('drops an over-long line, reports the bytes, and frames the next line', () => {
    const fr = new AtFramer({ maxLineBytes: 64 });
    const out = simple([...fr.push(Buffer.alloc(150, 0x41)), ...fr.push(b('\r\nOK\r\n'))]);
    const dropped = out.filter((s) => s.startsWith('overflow:')).reduce((n, s) => n + Number(s.slice(9)), 0);
    expect(dropped).toBe(150);
    expect(out.at(-1)).toBe('line:OK');
    expect(fr.pending).toBe(0);
  });

  it('never holds more than maxLineBytes however the bytes come', () => {
    const fr = new AtFramer({ maxLineBytes: 100 });
    const rnd = seededRandom(42);
    for (let i = 0; i < 500; i++) {
      const chunk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
      expect(() => fr.push(chunk)).not.toThrow();
      expect(fr.pending).toBeLessThanOrEqual(100);
    }
  });

  it('reset() drops a partial line (resync)', () => {
    const fr = new AtFramer();
    fr.push(b('\r\nO'));
    expect(fr.reset()).toBe(1);
    expect(simple(fr.push(b('K\r\n')))).toEqual(['line:K']);
  });

  it('escape and unescape are inverse for every byte', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const text = escapeAtBytes(all);
    expect(text).toMatch(/^[\x20-\x7e]*$/);
    expect(unescapeAtText(text)).toEqual(all);
    expect(unescapeAtText('bad\\q')).toBeUndefined();
    expect(isNoiseLine(b('   '))).toBe(true);
  });
});

describe('classifyFinal', () => {
  const rows: Array<[string, string | undefined, number | string | undefined, string]> = [
    ['OK', 'OK', undefined, '§1.2'],
    ['ERROR', 'ERROR', undefined, '§1.2'],
    ['+CME ERROR: 10', 'CME ERROR', 10, '§1.2 numeric (10 = SIM not inserted)'],
    ['+CME ERROR:14', 'CME ERROR', 14, '§1.2 `\\s*` before the number'],
    ['+CME ERROR: SIM PIN required', 'CME ERROR', 'SIM PIN required', '§1.2 text form'],
    ['+CMS ERROR: 512', 'CMS ERROR', 512, '§3.4 smstools'],
    ['+CME ERROR:', undefined, undefined, '§1.2: nothing after the colon is not final'],
    ['+CME ERROR: ', 'CME ERROR', '', '§1.2: a trailing space is'],
    ['NO CARRIER', 'NO CARRIER', undefined, '§1.2 call end'],
    ['BUSY', 'BUSY', undefined, '§1.2'],
    ['NO ANSWER', 'NO ANSWER', undefined, '§1.2'],
    ['NO DIALTONE', 'NO DIALTONE', undefined, '§1.2'],
    ['CONNECT 9600', 'CONNECT', undefined, '§1.2 CONNECT…'],
    ['COMMAND NOT SUPPORT', 'COMMAND NOT SUPPORT', undefined, '§3.4'],
    ['MODEM ERROR: 3', 'ERROR', 3, '§3.4 Samsung'],
    ['+CPIN: READY', undefined, undefined, '§2.3 (Wavecom needs customFinal)'],
    ['OKAY', undefined, undefined, 'ours'],
  ];
  for (const [line, final, code, source] of rows) {
    it(`${JSON.stringify(line)} → ${final ?? 'not final'} (${source})`, () => {
      const m = classifyFinal(line);
      expect(m?.final).toBe(final);
      expect(m?.errorCode).toBe(code);
    });
  }
});

describe('URC registry and solicited names', () => {
  const reg = new UrcRegistry(DEFAULT_URCS);
  it.each([
    ['RING', 'RING', '§1.10'],
    ['+CMTI: "SM",3', '+CMTI', '§1.8'],
    ['+CREG: 3', '+CREG', '§1.3 unsolicited form'],
    ['^RSSI:18', '^RSSI', '§2.4'],
    ['^MODE:5', '^MODE', '§2.4'],
    ['Call Ready', 'Call Ready', '§3.3'],
    ['VOICE CALL: END: 000041', 'VOICE CALL', '§1.10'],
  ])('%s is the URC %s (%s)', (line, name) => {
    expect(reg.match(line)?.name).toBe(name);
  });
  it('does not take +CMTI for +CMT, nor answer lines for URCs', () => {
    expect(reg.match('+CMTI: "SM",1')?.name).toBe('+CMTI');
    expect(reg.match('+CSQ: 17,99')).toBeUndefined();
    expect(reg.match('OK')).toBeUndefined();
  });
  it('knows which URCs have a second line (§1.8)', () => {
    expect(reg.match('+CMT: ,24')?.secondLine?.('+CMT: ,24')).toBe(true);
    expect(reg.match('+CDS: 24')?.secondLine?.('+CDS: 24')).toBe(true);
    expect(reg.match('+CDS: 6,46,"+123",145')?.secondLine?.('+CDS: 6,46,"+123",145')).toBe(false);
  });
  it('derives the answer prefixes of a command line (§1.3, §1.4 compound COPS)', () => {
    expect(solicitedNames('AT+CREG?')).toEqual(['+CREG']);
    expect(solicitedNames('AT+COPS=3,2;+COPS?')).toEqual(['+COPS', '+COPS']);
    expect(solicitedNames('AT^SYSINFO')).toEqual(['^SYSINFO']);
    expect(solicitedNames('ATI')).toEqual([]);
  });
});

describe('timeouts (§1.6)', () => {
  it.each([
    ['AT+COPS=?', 315_000], ['AT+CMGL=4', 120_000], ['AT+CMGL="ALL"', 120_000], ['AT+CPIN?', 10_000],
    ['AT+CREG?', 10_000], ['AT+CEREG?', 10_000], ['AT+CMGR=3', 10_000], ['AT+CSQ', 3_000], ['at+cops=?', 315_000],
    ['AT+COPS=3,2;+COPS?', 3_000], ['AT+CSQ;+CREG?', 10_000],
  ])('%s waits %i ms', (cmd, ms) => {
    expect(defaultTimeoutMs(cmd)).toBe(ms);
  });
});

describe('transcript text format', () => {
  const entries: TranscriptEntry[] = [
    { n: 1, wall: '2025-03-01T10:00:00.123Z', mono: 0.5, dir: 'tx', text: 'AT+CSQ\\r' },
    { n: 2, wall: '2025-03-01T10:00:00.130Z', mono: 7.25, dir: 'rx', text: '+CSQ: 17,99' },
    { n: 3, wall: '1970-01-01T00:00:00.000Z', mono: 1234.567, dir: 'note', text: 'a \\\\ b \\x1B' },
    { n: 4, wall: '2025-03-01T10:00:01.000Z', mono: 8, dir: 'rx', text: '> ' },
  ];
  it('round-trips exactly', () => {
    const dump = serialiseTranscript(entries, 'port /dev/serial/by-path/x');
    expect(dump.split('\n')[1]).toBe('1\t2025-03-01T10:00:00.123Z\t0.500\ttx\tAT+CSQ\\r');
    const parsed = parseTranscript(dump);
    expect(parsed.entries).toEqual(entries);
    expect(parsed.comments).toEqual(['port /dev/serial/by-path/x']);
    expect(parsed.errors).toEqual([]);
  });
  it('skips malformed lines with a reason', () => {
    const dump = [formatTranscriptEntry(entries[1] as TranscriptEntry), '2\tnot-a-time\t1.000\trx\tOK', '3\t2025-03-01T10:00:00.123Z\t1.000\tin\tOK', 'x'].join('\n');
    const parsed = parseTranscript(dump);
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.errors.map((e) => e.line)).toEqual([2, 3, 4]);
    expect(() => parseTranscriptLine('1\t2025-03-01T10:00:00.123Z\t1.5\trx\tOK')).toThrow(/GW_AT_TRANSCRIPT/);
  });
});
