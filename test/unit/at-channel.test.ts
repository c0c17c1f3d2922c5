/**
 * AtChannel behaviour against a scripted modem.
 *
 * ScriptedModem below is a test double for the DEVICE ONLY: it plays the module on the far end of
 * the wire (echo, answers, URC injection, silence, unplug), byte-exact with the samples of
 * shared/reference/at-commands.md. Everything on our side is the real code. The real-port path
 * (serialport 13 over a socat PTY pair) is covered by test/integration/at-pty.test.ts.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { AtChannel, assertOk, type AtChannelOptions } from '../../src/at/channel.js';
import { probePort } from '../../src/at/discovery.js';
import type { SerialBinding, Urc } from '../../src/at/types.js';

type Reply = string | Buffer | ((cmd: string) => string | undefined);
const OK = '\r\nOK\r\n';
const silent = (): undefined => undefined;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The rejection of `p`, caught at once (so it is never an unhandled rejection while the test waits). */
const failureOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => new Error('resolved, but should have failed'), (e: unknown) => e);

class ScriptedModem implements SerialBinding {
  readonly path = 'mem://modem0';
  isOpen = true;
  echo = false;
  /** Bytes per delivered chunk (1 = byte by byte). */
  chunk = 1024;
  /** ms before write() resolves (the answer may come first, as on a PTY). */
  writeLatencyMs = 0;
  /** Command lines as received; 'ESC' for an ESC byte. */
  readonly received: string[] = [];
  readonly writes: Array<{ at: number; bytes: number }> = [];
  /** Commands that arrived while the previous answer was still being sent. */
  overlaps = 0;
  readonly replies = new Map<string, Reply>([['AT', OK], ['ATS3?', '\r\n013\r\n\r\nOK\r\n']]);
  private line = '';
  private busy = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly dataL: Array<(c: Buffer) => void> = [];
  private readonly closeL: Array<(e?: Error) => void> = [];

  async open(): Promise<void> { this.isOpen = true; }
  async close(): Promise<void> { this.isOpen = false; for (const l of this.closeL) l(); }
  onData(l: (c: Buffer) => void): void { this.dataL.push(l); }
  onClose(l: (e?: Error) => void): void { this.closeL.push(l); }

  async write(data: Buffer): Promise<void> {
    if (!this.isOpen) throw new Error('EIO');
    this.writes.push({ at: performance.now(), bytes: data.length });
    for (const byte of data) {
      if (byte === 0x1b) this.received.push('ESC');
      else if (byte === 0x0d) {
        const cmd = this.line;
        this.line = '';
        this.command(cmd);
      } else this.line += String.fromCharCode(byte);
    }
    if (this.writeLatencyMs > 0) await sleep(this.writeLatencyMs);
  }

  private command(cmd: string): void {
    if (this.busy) this.overlaps++;
    this.received.push(cmd);
    const r = this.replies.get(cmd) ?? '\r\nERROR\r\n';
    const out = typeof r === 'function' ? r(cmd) : r;
    if (out === undefined) return;
    const body = typeof out === 'string' ? Buffer.from(out, 'latin1') : out;
    void this.emit(Buffer.concat([Buffer.from(this.echo ? cmd + '\r' : '', 'latin1'), body]), 0, true);
  }

  /**
   * Send bytes to the host after `delayMs`, in `chunk`-sized pieces. Output is serial, like a
   * module's: what is emitted later waits for what was emitted before (a late answer comes
   * before the answer to the next command).
   */
  emit(s: string | Buffer, delayMs = 0, answer = false): Promise<void> {
    const bytes = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    if (answer) this.busy = true;
    // The host may go on once the terminator after the last visible byte has arrived.
    let end = bytes.length - 1;
    while (end >= 0 && (bytes[end] === 0x0d || bytes[end] === 0x0a)) end--;
    end++;
    this.tail = this.tail.then(async () => {
      await sleep(delayMs);
      for (let i = 0; i < bytes.length; i += this.chunk) {
        if (i > 0) await new Promise((r) => setImmediate(r));
        const piece = bytes.subarray(i, i + this.chunk);
        if (answer && i + this.chunk > end) this.busy = false;
        for (const l of this.dataL) l(piece);
      }
      if (answer) this.busy = false;
    });
    return this.tail;
  }

  unplug(): void {
    this.isOpen = false;
    const err = Object.assign(new Error('Disconnected'), { disconnected: true });
    for (const l of this.closeL) l(err);
  }
}

function setup(opts: AtChannelOptions = {}): { modem: ScriptedModem; ch: AtChannel; urcs: Urc[] } {
  const modem = new ScriptedModem();
  const ch = new AtChannel(modem, { log: pino({ level: 'silent' }), resync: { quietMs: 10, attemptTimeoutMs: 300 }, minGapMs: 0, ...opts });
  const urcs: Urc[] = [];
  ch.onUrc((u) => urcs.push(u));
  return { modem, ch, urcs };
}

describe('AtChannel answers', () => {
  it('returns the information lines and OK (echo off)', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+CGMI', '\r\nSIMCOM_Ltd\r\n\r\nOK\r\n');
    const res = await ch.send('AT+CGMI');
    expect(res).toMatchObject({ command: 'AT+CGMI', lines: ['SIMCOM_Ltd'], final: 'OK', finalLine: 'OK' });
    const t = ch.transcript();
    expect(t.find((e) => e.n === res.transcriptLines[0])).toMatchObject({ dir: 'tx', text: 'AT+CGMI\\r' });
    expect(t.find((e) => e.n === res.transcriptLines[1])).toMatchObject({ dir: 'rx', text: 'OK' });
    expect(t.map((e) => e.n)).toEqual(t.map((_, i) => i + 1));
    expect(ch.echo).toBe(false);
  });

  it('drops the echo, also when it arrives split across chunks (§3.1)', async () => {
    const { modem, ch } = setup();
    modem.echo = true;
    modem.chunk = 3;
    modem.replies.set('AT+CSQ', '\r\n+CSQ: 17,99\r\n\r\nOK\r\n');
    expect((await ch.send('AT+CSQ')).lines).toEqual(['+CSQ: 17,99']);
    expect(ch.echo).toBe(true);
  });

  it('frames SIMCom \\r\\r\\n and the u-blox echo ending in a lone CR (§1.10, §2.5)', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+UCGED?', 'AT+UCGED?\r\r\n+UCGED: 2\r\n6,4,fff,fff\r\n\r\nOK\r\r\n');
    expect((await ch.send('AT+UCGED?')).lines).toEqual(['+UCGED: 2', '6,4,fff,fff']);
  });

  it('reports +CME and +CMS errors with their codes; assertOk throws GW_AT_ERROR (§1.2, §3.4)', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+CPIN?', '\r\n+CME ERROR: 10\r\n');
    modem.replies.set('AT+CMGR=1', '\r\n+CMS ERROR: 321\r\n');
    const cme = await ch.send('AT+CPIN?');
    expect(cme).toMatchObject({ final: 'CME ERROR', errorCode: 10, lines: [] });
    expect(await ch.send('AT+CMGR=1')).toMatchObject({ final: 'CMS ERROR', errorCode: 321 });
    expect(() => assertOk(cme)).toThrow(/GW_AT_ERROR/);
  });

  it('ends Wavecom AT+CPIN? on customFinal, since no OK ever comes (§2.3, §3.4)', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+CPIN?', '\r\n+CPIN: READY\r\n');
    const res = await ch.send('AT+CPIN?', { customFinal: /^\+CPIN: / });
    expect(res).toMatchObject({ final: 'CUSTOM', finalLine: '+CPIN: READY', lines: ['+CPIN: READY'] });
    await expect(ch.send('AT+CPIN?', { timeoutMs: 80 })).rejects.toThrow(/GW_AT_TIMEOUT/);
  });

  it('tolerates binary garbage before the echo and between lines', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+CGMM', Buffer.concat([Buffer.from([0x00, 0xff, 0xfe]), Buffer.from('AT+CGMM\r\r\n\xff\xfe\r\nSIMCOM_SIM800L\r\n\r\nOK\r\n', 'latin1')]));
    const res = await ch.send('AT+CGMM');
    expect(res.lines).toEqual(['SIMCOM_SIM800L']);
    expect(ch.stats.noiseLines).toBe(1);
  });
});

describe('AtChannel URCs', () => {
  it('routes a URC in the middle of a response to listeners, not into the lines (§3.3)', async () => {
    const { modem, ch, urcs } = setup();
    modem.replies.set('AT+CPMS?', '\r\n+CPMS: "SM",1,30,\r\n\r\n^RSSI:18\r\n\r\n+CMTI: "SM",2\r\n"SM",1,30\r\n\r\nOK\r\n\r\n+CIEV: 7,1\r\n');
    const res = await ch.send('AT+CPMS?');
    expect(res.lines).toEqual(['+CPMS: "SM",1,30,', '"SM",1,30']);
    expect(urcs.map((u) => u.name)).toEqual(['^RSSI', '+CMTI', '+CIEV']);
    expect(urcs[1]).toMatchObject({ port: 'mem://modem0', line: '+CMTI: "SM",2' });
  });

  it('joins the two lines of +CMT, idle and mid-command (§1.8)', async () => {
    const { modem, ch, urcs } = setup();
    await modem.emit('\r\n+CMT: ,24\r\n07914306073011F00405812261F700003130916191314095C2\r\n');
    modem.replies.set('AT+CSQ', '\r\n+CMT: "+8615021012496",,"13/03/18,17:07:21+32"\r\nThis is a test from Quectel.\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n');
    expect((await ch.send('AT+CSQ')).lines).toEqual(['+CSQ: 20,99']);
    expect(urcs).toHaveLength(2);
    expect(urcs[0]).toMatchObject({ name: '+CMT', line: '+CMT: ,24', data: '07914306073011F00405812261F700003130916191314095C2' });
    expect(urcs[1]).toMatchObject({ name: '+CMT', data: 'This is a test from Quectel.' });
  });

  it('takes +CREG as the answer to AT+CREG? and as a URC otherwise (§1.3)', async () => {
    const { modem, ch, urcs } = setup();
    modem.replies.set('AT+CREG?', '\r\n+CREG: 2,1,"1234","001122BB"\r\n\r\nOK\r\n');
    modem.replies.set('AT+CSQ', '\r\n+CREG: 1,"CE00","00005449"\r\n+CSQ: 17,99\r\n\r\nOK\r\n');
    expect((await ch.send('AT+CREG?')).lines).toEqual(['+CREG: 2,1,"1234","001122BB"']);
    expect((await ch.send('AT+CSQ')).lines).toEqual(['+CSQ: 17,99']);
    await modem.emit('\r\n+CREG: 3\r\n');
    expect(urcs.map((u) => u.line)).toEqual(['+CREG: 1,"CE00","00005449"', '+CREG: 3']);
    expect((await ch.send('AT+CSQ', { responsePrefix: '+CREG:' })).lines).toEqual(['+CREG: 1,"CE00","00005449"', '+CSQ: 17,99']);
  });

  it('keeps other listeners and the channel going when a listener throws', async () => {
    const { modem, ch, urcs } = setup();
    ch.onUrc(() => { throw new Error('listener bug'); });
    await modem.emit('\r\nRING\r\n\r\n+CLIP: "123456789",129\r\n');
    expect(urcs.map((u) => u.name)).toEqual(['RING', '+CLIP']);
    expect((await ch.send('AT')).final).toBe('OK');
  });
});

describe('AtChannel prompt, timeouts and resync', () => {
  it('aborts the "> " prompt with ESC and notes it (read-only tool)', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+CMGS=20', '\r\n> ');
    modem.replies.set('AT+CSQ', '\r\n+CSQ: 9,99\r\n\r\nOK\r\n');
    const res = await ch.send('AT+CMGS=20');
    expect(res).toMatchObject({ final: 'PROMPT', finalLine: '> ' });
    expect(modem.received.slice(-2)).toEqual(['AT+CMGS=20', 'ESC']);
    const t = ch.transcript();
    expect(t.some((e) => e.dir === 'tx' && e.text === '\\x1B')).toBe(true);
    expect(t.some((e) => e.dir === 'note' && /prompt aborted with ESC/.test(e.text))).toBe(true);
    // The module may still answer the cancelled command: the next command resyncs first.
    expect((await ch.send('AT+CSQ')).lines).toEqual(['+CSQ: 9,99']);
    expect(modem.received.slice(-2)).toEqual(['ATS3?', 'AT+CSQ']);
  });

  it('resynchronises after a timeout, so a late OK does not answer the next command (§1.1, §3.2)', async () => {
    const { modem, ch, urcs } = setup();
    modem.replies.set('AT+COPS?', () => {
      void modem.emit('\r\n+COPS: 0,0,"vodafone ES"\r\n\r\nOK\r\n', 120);
      return undefined;
    });
    modem.replies.set('AT+CGSN', '\r\n+CME ERROR: 10\r\n');
    await expect(ch.send('AT+COPS?', { timeoutMs: 60 })).rejects.toMatchObject({ code: 'GW_AT_TIMEOUT' });
    expect(ch.consecutiveTimeouts).toBe(1);
    const next = ch.send('AT+CGSN'); // the late answer arrives while the channel resyncs
    expect(await next).toMatchObject({ final: 'CME ERROR', errorCode: 10, lines: [] });
    expect(modem.received).toContain('ATS3?');
    expect(urcs).toEqual([]); // a late +COPS is not a URC
    expect(ch.consecutiveTimeouts).toBe(0);
    expect(ch.transcript().some((e) => e.dir === 'note' && e.text === 'resync ok')).toBe(true);
    expect(ch.transcript().filter((e) => e.dir === 'note' && /discarded during resync/.test(e.text))).toHaveLength(2);
  });

  it('does not take a late OK that comes before the sentinel answer for the sentinel', async () => {
    const { modem, ch } = setup();
    let n = 0;
    // The first ATS3? meets a late OK still in the module's output; the second a silent module.
    modem.replies.set('ATS3?', () => (++n === 1 ? `${OK}\r\n013\r\n${OK}` : '\r\n013\r\n\r\nOK\r\n'));
    modem.replies.set('AT+CSQ', '\r\n+CSQ: 5,99\r\n\r\nOK\r\n');
    expect((await ch.send('AT+CSQ')).lines).toEqual(['+CSQ: 5,99']);
    expect(modem.received.filter((c) => c === 'ATS3?')).toHaveLength(1);
    const rx = ch.transcript().filter((e) => e.dir === 'rx').map((e) => e.text);
    expect(rx).toEqual(['OK', '013', 'OK', '+CSQ: 5,99', 'OK']);
  });

  it('fails the next command with GW_AT_RESYNC when the module stays silent', async () => {
    const { modem, ch } = setup({ resync: { quietMs: 5, attemptTimeoutMs: 40, attempts: 2 } });
    modem.replies.set('ATS3?', silent);
    await expect(ch.send('AT+CSQ')).rejects.toMatchObject({ code: 'GW_AT_RESYNC' });
    expect(modem.received).toEqual(['ATS3?', 'ATS3?']);
  });
});

describe('AtChannel queue, pacing and close', () => {
  it('does not time out a command that was answered before its write completed', async () => {
    const { modem, ch } = setup();
    modem.writeLatencyMs = 20;
    expect((await ch.send('AT', { timeoutMs: 40 })).final).toBe('OK');
    await sleep(80);
    expect(ch.stats.timeouts).toBe(0);
    expect(ch.transcript().some((e) => /timeout/.test(e.text))).toBe(false);
  });

  it('runs concurrent commands one at a time, in order, each with its own answer', async () => {
    const { modem, ch } = setup();
    modem.chunk = 2;
    const cmds = ['AT+CGMI', 'AT+CGMM', 'AT+CGMR', 'AT+CGSN', 'AT+CIMI'];
    cmds.forEach((c, i) => modem.replies.set(c, `\r\nanswer-${i}\r\n\r\nOK\r\n`));
    const results = await Promise.all(cmds.map((c) => ch.send(c)));
    expect(results.map((r) => r.lines[0])).toEqual(cmds.map((_, i) => `answer-${i}`));
    expect(modem.received.filter((c) => c !== 'ATS3?')).toEqual(cmds);
    expect(modem.overlaps).toBe(0);
  });

  it('keeps the minimum gap between commands and can write byte by byte (§3.6)', async () => {
    const { modem, ch } = setup({ minGapMs: 30, perByteDelayMs: 1, resyncOnOpen: false });
    await ch.send('AT');
    await ch.send('AT');
    expect(modem.writes.every((w) => w.bytes === 1)).toBe(true);
    expect(modem.writes).toHaveLength(6);
    expect((modem.writes[3] as { at: number }).at - (modem.writes[2] as { at: number }).at).toBeGreaterThanOrEqual(28);
  });

  it('rejects the command in flight and the queued ones with GW_AT_CLOSED on unplug', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+COPS=?', silent);
    const inflight = failureOf(ch.send('AT+COPS=?'));
    const queued = failureOf(ch.send('AT+CSQ'));
    await sleep(30);
    modem.unplug();
    expect(await inflight).toMatchObject({ code: 'GW_AT_CLOSED', context: { disconnected: true } });
    expect(await queued).toMatchObject({ code: 'GW_AT_CLOSED' });
    await expect(ch.send('AT')).rejects.toMatchObject({ code: 'GW_AT_CLOSED' });
    expect(ch.transcript().some((e) => e.dir === 'note' && /port went away/.test(e.text))).toBe(true);
  });

  it('resyncs and works again after the port is reopened', async () => {
    const { modem, ch } = setup();
    await ch.send('AT');
    modem.unplug();
    await modem.open();
    await modem.emit('\r\nOK\r\n'); // leftovers of the previous session
    expect((await ch.send('AT+CSQ')).final).toBe('ERROR');
    expect(modem.received.slice(-2)).toEqual(['ATS3?', 'AT+CSQ']);
  });

  it('close() fails what is queued and closes the port', async () => {
    const { modem, ch } = setup();
    modem.replies.set('AT+CSQ', silent);
    const a = failureOf(ch.send('AT+CSQ'));
    const b = failureOf(ch.send('AT'));
    await sleep(20);
    await ch.close();
    expect(await a).toMatchObject({ code: 'GW_AT_CLOSED' });
    expect(await b).toMatchObject({ code: 'GW_AT_CLOSED' });
    expect(modem.isOpen).toBe(false);
  });

  it('refuses lines that are not single AT commands, and what the policy refuses', async () => {
    const { modem, ch } = setup({ refuse: (c) => (/\+EGMR/i.test(c) ? 'writes the IMEI (§5)' : undefined) });
    await expect(ch.send('AT+CMGS="123"\rhello\x1a')).rejects.toMatchObject({ code: 'GW_AT_REFUSED' });
    await expect(ch.send('ping')).rejects.toMatchObject({ code: 'GW_AT_REFUSED' });
    await expect(ch.send('AT+EGMR=1,7,"0"')).rejects.toThrow(/IMEI/);
    expect(modem.received).toEqual([]);
  });
});

describe('probePort (§1.1)', () => {
  it('counts ERROR as proof of AT', async () => {
    const modem = new ScriptedModem();
    modem.replies.set('AT', '\r\nERROR\r\n');
    const r = await probePort(modem, { log: pino({ level: 'silent' }) });
    expect(r).toMatchObject({ speaksAt: true, tries: 1, final: 'ERROR' });
    expect(r.transcript.map((e) => e.text)).toEqual(['AT\\r', 'ERROR']);
  });

  it('gives up after the tries on a silent port', async () => {
    const modem = new ScriptedModem();
    modem.replies.set('AT', silent);
    const r = await probePort(modem, { tries: 3, timeoutMs: 30, log: pino({ level: 'silent' }) });
    expect(r).toMatchObject({ speaksAt: false, tries: 3 });
    expect(r.error).toMatch(/GW_AT_TIMEOUT/);
    expect(modem.received).toEqual(['AT', 'AT', 'AT']);
  });
});
