/**
 * SimulatedModem, pure: bytes in, bytes out. Every vendor sample names its source in
 * shared/reference/at-commands.md; "shape" compares field by field (numbers as numbers, keywords
 * verbatim), since our values differ from the captured ones.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodePdu, reassemble, type SmsDeliverPdu } from '../../src/at/pdu.js';
import { serialiseTranscript } from '../../src/at/transcript.js';
import {
  createModem, createModemState, luhnValid, PROFILES, PROFILE_IDS, swapIccidNibbles, TranscriptModem,
  type ProfileId, type SimulatedModem,
} from '../../src/modems/simulator/index.js';

type Opts = Partial<Parameters<typeof createModem>[0]>;
type Rig = { m: SimulatedModem; send: (cmd: string) => string; drain: () => string };

function rig(profile: ProfileId, opts: Opts = {}): Rig {
  const m = createModem({ profile, seed: 42, copsScanMs: 0, ...opts });
  const out: Buffer[] = [];
  m.onOutput((b) => out.push(b));
  const drain = (): string => Buffer.concat(out.splice(0)).toString('utf8');
  const send = (cmd: string): string => {
    drain();
    m.input(Buffer.from(`${cmd}\r`, 'latin1'));
    return drain();
  };
  return { m, send, drain };
}

/** Echo off first, so answers come without the echo. */
function quiet(profile: ProfileId, opts: Opts = {}): Rig {
  const r = rig(profile, opts);
  r.send('ATE0');
  return r;
}

/**
 * Field-by-field shape: numbers (decimal, hex, +international) → N, two-letter storage names →
 * MEM, keywords verbatim, other text with its digits as 9. Quotes are kept where they are.
 */
function shape(line: string): string {
  const one = (f: string): string => {
    const lead = f.startsWith('"') ? '"' : '';
    const tail = f.length > 1 && f.endsWith('"') ? '"' : '';
    const core = f.slice(lead.length, f.length - tail.length);
    let c: string;
    if (/^[-+]?[0-9A-Fa-f]+$/.test(core) && /\d/.test(core)) c = 'N';
    else if (/^0x[0-9A-Fa-f]+$/.test(core)) c = '0xN';
    else if (lead && tail && /^[A-Z]{2}$/.test(core)) c = 'MEM';
    else c = core.replace(/\d+(\.\d+)?/g, '9');
    return lead + c + tail;
  };
  const m = /^([^:]*):\s*(.*)$/s.exec(line);
  return `${m?.[1] ?? line}:${(m?.[2] ?? '').split(',').map(one).join(',')}`;
}

const info = (answer: string): string[] => answer.split('\r\n').filter((l) => l !== '' && l !== 'OK');

afterEach(() => vi.useRealTimers());

describe('identity and echo per profile', () => {
  it.each(PROFILE_IDS)('%s echoes on power-up (ATE1), honours ATE0/ATE1 and names itself', (id) => {
    const { send } = rig(id);
    expect(send('AT')).toBe('AT\r\r\nOK\r\n');
    expect(send('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(send('AT')).toBe('\r\nOK\r\n');
    const p = PROFILES[id];
    expect(send('AT+CGMI')).toBe(`\r\n${p.manufacturer}\r\n\r\nOK\r\n`);
    expect(send('AT+CGMM')).toBe(`\r\n${p.model}\r\n\r\nOK\r\n`);
    expect(send('AT+CGMR')).toBe(`\r\n${p.revision}\r\n\r\nOK\r\n`);
    const imei = info(send('AT+CGSN'))[0] ?? '';
    expect(luhnValid(imei) && imei.length === 15).toBe(true);
    expect(p.tacs).toContain(imei.slice(0, 8));
    expect(send('ATE1')).toBe('\r\nOK\r\n');
    expect(send('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('generic answers like ModemManager gsm-port.conf (§1.11)', () => {
    const { send, m } = quiet('generic', { sim: { operator: 'cmcc' } });
    expect(send('ATI')).toBe(`\r\nManufacturer: Some vendor\r\nModel: Some model\r\nRevision: Some revision\r\nIMEI: ${m.state.imei}\r\n+GCAP: +CGSM,+DS,+ES\r\n\r\nOK\r\n`);
    expect(send('AT+CMGF=?')).toBe('\r\n+CMGF: (0,1)\r\n\r\nOK\r\n');
    expect(send('AT+CPIN?')).toBe('\r\n+CPIN: READY\r\n\r\nOK\r\n');
    expect(shape(info(send('AT+CREG=2;+CREG?'))[0] ?? '')).toBe(shape('+CREG: 2,1,"1234","001122BB"'));
    expect(send('AT+COPS=3,2;+COPS?')).toMatch(/^\r\n\+COPS: 0,2,"46000",\d\r\n\r\nOK\r\n$/);
    expect(send('AT+COPS=3,0;+COPS?')).toMatch(/^\r\n\+COPS: 0,0,"CHINA MOBILE",\d\r\n\r\nOK\r\n$/);
    expect(send('AT+CIMI')).toMatch(/^\r\n460\d{12}\r\n\r\nOK\r\n$/);
  });

  it('SIM800 ATI "SIM800 R14.18" and SIM7600E-H ATI (§5, §2.2 minicom capture)', () => {
    expect(quiet('simcom-sim800').send('ATI')).toBe('\r\nSIM800 R14.18\r\n\r\nOK\r\n');
    const r = quiet('simcom-sim7600');
    expect(info(r.send('ATI'))).toEqual(['Manufacturer: SIMCOM INCORPORATED', 'Model: SIMCOM_SIM7600E-H', 'Revision: SIM7600M22_V1.1', `IMEI: ${r.m.state.imei}`, '+GCAP: +CGSM']);
  });

  it('Wavecom: MULTIBAND  900E  1800 and +CPIN: READY with no OK (§2.3, §3.4)', () => {
    const { send } = quiet('wavecom-q2403');
    expect(send('AT+CGMM')).toBe('\r\nMULTIBAND  900E  1800\r\n\r\nOK\r\n');
    expect(send('AT+CGMR')).toBe('\r\n641b09gg.Q2403A 1320676 061804 14:38\r\n\r\nOK\r\n');
    expect(send('AT+CPIN?')).toBe('\r\n+CPIN: READY\r\n');
  });

  it('SIMCom SIM7xxx URCs end with \\r\\r\\n (MM simtech tests, §1.10); others \\r\\n', () => {
    const a = rig('simcom-sim7600');
    a.m.injectUrc('+CRING: VOICE');
    expect(a.drain()).toBe('\r\r\n+CRING: VOICE\r\r\n');
    const b = quiet('quectel-ec25');
    b.send('AT+CLIP=1');
    b.m.ring('+8613912345678');
    expect(b.drain()).toBe('\r\nRING\r\n\r\n+CLIP: "+8613912345678",145,,,,0\r\n');
  });
});

describe('ICCID per dialect (§1.7)', () => {
  const cases: Array<[ProfileId, string, RegExp]> = [
    ['quectel-ec25', 'AT+QCCID', /^\+QCCID: (\d{20})$/],
    ['quectel-m35', 'AT+QCCID', /^(\d{20})$/],
    ['simcom-sim800', 'AT+CCID', /^(\d{20})$/],
    ['simcom-sim7600', 'AT+CICCID', /^\+ICCID: (\d{20})$/],
    ['wavecom-q2403', 'AT+CCID', /^\+CCID: "(\d{20})"$/],
  ];
  it.each(cases)('%s answers %s with a Luhn-valid 8986 ICCID', (id, cmd, re) => {
    const iccid = re.exec(info(quiet(id).send(cmd))[0] ?? '')?.[1] ?? '';
    expect(iccid.startsWith('8986') && luhnValid(iccid)).toBe(true);
  });

  it('Huawei ^ICCID? and +CRSM give EF_ICCID nibble-swapped (mm_3gpp_parse_iccid vectors)', () => {
    const { send, m } = quiet('huawei-e173');
    const iccid = m.state.sim?.iccid ?? '';
    expect(info(send('AT^ICCID?'))).toEqual([`^ICCID: ${swapIccidNibbles(iccid)}`]);
    expect(info(send('AT+CRSM=176,12258,0,0,10'))).toEqual([`+CRSM: 144,0,"${swapIccidNibbles(iccid)}"`]);
    expect(swapIccidNibbles('8944200053671052499')).toBe('984402003576012594F9');
    expect(send('AT+CICCID')).toBe('\r\nERROR\r\n');
  });
});

describe('cell information in the vendors\' formats (§2)', () => {
  const cases: Array<[string, ProfileId, string[], number, string, ('cmcc' | 'unicom')?]> = [
    ['EG25 capture, §2.1', 'quectel-ec25', ['AT+QENG="servingcell"'], 0, '+QENG: "servingcell","NOCONN","LTE","FDD",214,01,7676A09,188,6300,20,3,3,603,-104,-9,-78,11,23'],
    ['EG25 capture, §2.1', 'quectel-ec25', ['AT+QENG="neighbourcell"'], 0, '+QENG: "neighbourcell intra","LTE",6300,188,-12,-105,-75,-20,23,4,12,10,62'],
    ['M35 firmware comment, §2.1', 'quectel-m35', ['AT+QENG=1,1', 'AT+QENG?'], 1, '+QENG: 0,460,00,592f,2976,520,44,-78,45,69,0,20,x,x,x,x,x,x,x'],
    ['SITCH ceng-SIM800L.txt, §2.2', 'simcom-sim800', ['AT+CENG=1,1', 'AT+CENG?'], 1, '+CENG: 0,"0666,21,00,310,260,08,4e72,04,03,0113,255"'],
    ['SITCH ceng-SIM800L.txt, §2.2', 'simcom-sim800', ['AT+CENG=1,1', 'AT+CENG?'], 2, '+CENG: 1,"1688,16,25,a53f,310,260,0113"'],
    ['SIM7600E-H capture, §2.2', 'simcom-sim7600', ['AT+CPSI?'], 0, '+CPSI: LTE,Online,228-02,0x9CA4,20964868,46,EUTRAN-BAND20,6200,3,3,-178,-1089,-742,8'],
    ['Multi-Tech +CCED example, §2.3', 'wavecom-q2403', ['AT+CCED=0,7'], 0, '+CCED:208,20,0002,0418,37,706,24,,,0,,,0,208,20,0006,989b,37,835,20,208,20,0002,02a9,37,831,12,208,20,0101,7966,34,818,5,208,20,0006,9899,39,713,9,208,20,0002,0a72,33,711,12,208,20,0101,03fb,36,824,10,1'],
    ['MM huawei test vector, §2.4', 'huawei-e173', ['AT^SYSINFO'], 0, '^SYSINFO:2,4,5,3,1,,6'],
    ['MM huawei test vector, §2.4', 'huawei-e173', ['AT^HCSQ?'], 0, '^HCSQ:"WCDMA",30,30,58'],
    ['Huawei E160G, §1.3', 'huawei-e173', ['AT+CREG=2', 'AT+CREG?'], 0, '+CREG: 2,1,8BE3,2BAF'],
    ['cops_query_data, §1.4', 'simcom-sim800', ['AT+COPS?'], 0, '+COPS: 1,0,"CHINA MOBILE"', 'cmcc'],
    ['cesq_response_tests, §1.5', 'quectel-ec25', ['AT+CESQ'], 0, '+CESQ: 99,99,255,255,20,80'],
    ['gsm-port.conf, §1.11', 'simcom-sim800', ['AT+CSQ'], 0, '+CSQ: 17,99'],
    ['cpms query vector, §1.8', 'simcom-sim800', ['AT+CPMS?'], 0, '+CPMS: "SM",100,100,"SR",5,10,"TA",1,100'],
  ];
  it.each(cases)('%s: %s %j line %i', (_src, id, cmds, line, sample, operator = 'unicom') => {
    const { send } = quiet(id, { sim: { operator } });
    let last = '';
    for (const c of cmds) last = send(c);
    expect(shape(info(last)[line] ?? '')).toBe(shape(sample));
  });

  it('Quectel "SEARCH", SIMCom "NO SERVICE", Huawei sim_state 255 when there is no SIM', () => {
    expect(info(quiet('quectel-ec25', { sim: false }).send('AT+QENG="servingcell"'))).toEqual(['+QENG: "servingcell","SEARCH"']);
    expect(info(quiet('simcom-sim7600', { sim: false }).send('AT+CPSI?'))).toEqual(['+CPSI: NO SERVICE,Online']);
    expect(info(quiet('huawei-e173', { sim: false }).send('AT^SYSINFO'))[0]).toMatch(/^\^SYSINFO:1,0,0,\d,255,,0$/);
  });

  it('Huawei sends ^RSSI/^MODE until AT^CURC=0 (Gammu F_HUAWEI_INIT, §2.4)', () => {
    vi.useFakeTimers();
    const { m, send, drain } = quiet('huawei-e173', { noiseIntervalMs: 1000 });
    vi.advanceTimersByTime(2100);
    expect(drain()).toMatch(/^\r\n\^RSSI:\d+\r\n\r\n\^MODE:\d,\d\r\n$/);
    expect(send('AT^CURC=0')).toBe('\r\nOK\r\n');
    vi.advanceTimersByTime(10_000);
    expect(drain()).toBe('');
    m.dispose();
  });
});

describe('registration, operator and error modes (§1.2–§1.4)', () => {
  it('+CREG? follows AT+CREG=n; a change is a URC without n', () => {
    const { m, send, drain } = quiet('simcom-sim800', { sim: { operator: 'cmcc' } });
    expect(info(send('AT+CREG?'))).toEqual(['+CREG: 0,1']);
    send('AT+CREG=1');
    expect(info(send('AT+CREG?'))).toEqual(['+CREG: 1,1']);
    m.setRegistration(5);
    expect(drain()).toBe('\r\n+CREG: 5\r\n');
    send('AT+CREG=2');
    m.setRegistration(1);
    expect(drain()).toMatch(/^\r\n\+CREG: 1,"[0-9A-F]{4}","[0-9A-F]{4}"\r\n$/);
  });

  it('+COPS? in the format set by AT+COPS=3,<f>, UCS-2 hex under CSCS="UCS2"', () => {
    const { send } = quiet('simcom-sim800', { sim: { operator: 'unicom' } });
    expect(info(send('AT+COPS=3,1;+COPS?'))).toEqual(['+COPS: 0,1,"UNICOM"']);
    expect(info(send('AT+CSCS="UCS2";+COPS=3,2;+COPS?'))).toEqual(['+COPS: 0,2,"00340036003000300031"']);
  });

  it('no SIM: ERROR, +CME ERROR: 10 or text, as CMEE says; unknown commands likewise', () => {
    const { send } = quiet('quectel-m35', { sim: false });
    expect(send('AT+CIMI')).toBe('\r\nERROR\r\n');
    expect(send('AT+FOO')).toBe('\r\nERROR\r\n');
    send('AT+CMEE=1');
    expect(send('AT+CPIN?')).toBe('\r\n+CME ERROR: 10\r\n');
    expect(send('AT+CMGL=4')).toBe('\r\n+CMS ERROR: 310\r\n');
    expect(send('AT+FOO')).toBe('\r\n+CME ERROR: 100\r\n');
    send('AT+CMEE=2');
    expect(send('AT+CIMI')).toBe('\r\n+CME ERROR: SIM not inserted\r\n');
    expect(info(send('AT+CREG?'))).toEqual(['+CREG: 0,0']);
    expect(info(send('AT+COPS?'))).toEqual(['+COPS: 0']);
  });

  it('a compound line stops at the first error', () => {
    expect(quiet('simcom-sim800').send('AT+CSQ;+FOO;+CGSN')).toMatch(/^\r\n\+CSQ: \d+,99\r\n\r\nERROR\r\n$/);
  });
});

describe('SMS inbox (§1.8, §1.9, §3.5)', () => {
  it('AT+CMGL=4 lists +CMGL: idx,stat,,len + PDU that decode to Chinese verification codes, multipart included', () => {
    const { m, send } = quiet('simcom-sim800', { sim: { sms: 14 } });
    const lines = info(send('AT+CMGL=4,1'));
    const pdus: SmsDeliverPdu[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const h = /^\+CMGL: (\d+),([0-3]),,(\d+)$/.exec(lines[i] ?? '');
      expect(h).not.toBeNull();
      const pdu = lines[i + 1] ?? '';
      const decoded = decodePdu(pdu);
      if ('error' in decoded || decoded.type !== 'deliver') throw new Error(`bad PDU ${pdu}`);
      // <length> counts the TPDU: octets after the SMSC field (27.005).
      expect(Number(h?.[3])).toBe(pdu.length / 2 - 1 - parseInt(pdu.slice(0, 2), 16));
      pdus.push(decoded);
    }
    const stored = m.state.sim?.sms ?? [];
    expect(pdus.length).toBe(stored.length);
    expect(stored.some((s) => s.concat)).toBe(true);
    const messages = reassemble(pdus);
    expect(messages.every((x) => x.complete)).toBe(true);
    const codes = new Set(stored.map((s) => s.code));
    for (const x of messages) {
      expect(x.text).toMatch(/验证码|code/);
      expect([...codes].some((c) => c && x.text.includes(c))).toBe(true);
    }
    expect(pdus.some((p) => p.encoding === 'ucs2' && p.concat)).toBe(true);
    expect(pdus.every((p) => p.timestamp.offsetMinutes === 480)).toBe(true);
  });

  it('text mode: AT+CMGL="ALL" and +CMGR in the Gammu sample layout; Chinese bodies as UCS-2 hex', () => {
    const { m, send } = quiet('quectel-ec25');
    send('AT+CMGF=1');
    const first = m.state.sim?.sms[0];
    const lines = info(send('AT+CMGL="ALL"'));
    expect(shape(lines[0] ?? '')).toBe(shape('+CMGL: 1,"REC READ","+393488535999",,"07/04/05,18:02:28+08"'));
    expect(info(send(`AT+CMGR=${first?.index}`))[0]).toMatch(/^\+CMGR: "REC READ","\d+",,"\d\d\/\d\d\/\d\d,\d\d:\d\d:\d\d\+32"$/);
    const body = lines[1] ?? '';
    expect(first?.ucs2 ? Buffer.from(body, 'hex').swap16().toString('utf16le') : body).toBe(first?.text);
    expect(send('AT+CMGL=4')).toBe('\r\nERROR\r\n');
  });

  it('PDU +CMGR: <stat>,,<len> (Gammu 02.dump), +CPMS? counts, +CMGD=? used indices', () => {
    const { m, send } = quiet('huawei-e173', { sim: { sms: 3 } });
    const first = m.state.sim?.sms[0];
    expect(first?.index).toBe(0); // Huawei storage starts at 0 (F_SMS_LOCATION_0)
    expect(info(send('AT+CMGR=0'))).toEqual([`+CMGR: ${first?.status === 0 ? 1 : first?.status},,${first?.tpduLength}`, first?.pdu]);
    const n = m.state.sim?.sms.length ?? 0;
    expect(info(send('AT+CPMS?'))).toEqual([`+CPMS: "SM",${n},40,"SM",${n},40,"SM",${n},40`]);
    expect(info(send('AT+CMGD=?'))[0]).toMatch(/^\+CMGD: \(0(,\d+)*\),\(0-4\)$/);
  });

  it('reading REC UNREAD marks it read, recorded as a side effect; SIMCom <mode>=1 leaves it', () => {
    const a = quiet('simcom-sim800', { sim: { sms: 20 } });
    const unread = a.m.state.sim?.sms.filter((s) => s.status === 0).length ?? 0;
    expect(unread).toBeGreaterThan(0);
    a.send('AT+CMGL=4,1');
    expect(a.m.sideEffects).toEqual([]);
    a.send('AT+CMGL=4');
    expect(a.m.sideEffects).toHaveLength(1);
    expect(a.m.state.sim?.sms.every((s) => s.status === 1)).toBe(true);
    const b = quiet('quectel-ec25');
    b.send('AT+CMEE=1');
    expect(b.send('AT+CMGL=4,1')).toBe('\r\n+CMS ERROR: 304\r\n');
  });

  it('deliverSms stores the parts and announces each with +CMTI', () => {
    const { m, drain } = quiet('quectel-m35', { sim: { sms: 0 } });
    const parts = m.deliverSms({ sender: '95188', text: '【支付宝】验证码123456，'.repeat(6), platform: 'alipay', code: '123456' });
    expect(parts.length).toBe(2);
    expect(drain()).toBe('\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n');
  });
});

describe('no destructive command changes state silently (§5)', () => {
  const destructive: Array<[string, string]> = [
    ['AT+CMGD=1', 'sms-delete'], ['AT+CMGD=1,4', 'sms-delete'], ['AT+CPBW=1', 'phonebook-write'], ['AT+CSCA="+8613800100500"', 'sim-write'],
    ['AT&W', 'profile-save'], ['AT+CFUN=1,1', 'power'], ['AT+COPS=2', 'network'], ['AT+EGMR=1,7,"864369030000000"', 'imei-write'],
    ['AT+CRSM=214,28423,0,0,9,"0849060000000000F0"', 'sim-write'], ['AT+CLCK="SC",1,"1234"', 'pin'], ['ATD10086;', 'call'], ['AT+CUSD=1,"*100#",15', 'ussd'],
  ];
  it.each(destructive)('%s is recorded as %s', (cmd, kind) => {
    const { m, send } = quiet('simcom-sim800', { sim: { sms: 3, contacts: 2 } });
    const before = JSON.stringify(m.state);
    send(cmd);
    expect(m.attempts.map((a) => a.kind)).toEqual([kind]);
    // Where the simulator models the effect, it happened (a real module would have done it).
    if (['sms-delete', 'phonebook-write', 'imei-write', 'network'].includes(kind)) expect(JSON.stringify(m.state)).not.toBe(before);
  });

  it('AT+CMGS asks for the body with "\\r\\n> " and is recorded when sent with Ctrl-Z', () => {
    const { m, send, drain } = quiet('simcom-sim800');
    expect(send('AT+CMGS=18')).toBe('\r\n> ');
    m.input(Buffer.from('0001000B915121551532F400000AE8329BFD4697D9EC37\x1a', 'latin1'));
    expect(drain()).toMatch(/^\r\n\+CMGS: \d+\r\n\r\nOK\r\n$/);
    expect(m.attempts).toMatchObject([{ kind: 'sms-send', applied: true }]);
  });

  it('a read-only dump sequence leaves no attempt and no side effect', () => {
    const { m, send } = rig('simcom-sim800', { sim: { sms: 8, contacts: 3 } });
    const before = JSON.stringify(m.state);
    for (const c of ['ATE0', 'AT+CMEE=1', 'ATI', 'AT+CGMI', 'AT+CGMM', 'AT+CGMR', 'AT+CGSN', 'AT+CPIN?', 'AT+CIMI', 'AT+CCID', 'AT+CNUM',
      'AT+CREG=2', 'AT+CREG?', 'AT+COPS=3,0;+COPS?', 'AT+CSQ', 'AT+CENG=1,1', 'AT+CENG?', 'AT+CSCA?', 'AT+CPMS?', 'AT+CMGF=0', 'AT+CMGL=4,1',
      'AT+CMGF=1', 'AT+CMGR=1,1', 'AT+CPBS="SM"', 'AT+CPBR=1,250', 'AT+CMGD=?', 'AT+CRSM=176,12258,0,0,10', 'AT+CLCK="SC",2']) send(c);
    expect(m.attempts).toEqual([]);
    expect(m.sideEffects).toEqual([]);
    expect(m.unknownCommands).toEqual([]);
    expect(JSON.stringify(m.state)).toBe(before);
  });
});

describe('fault switches (faults.ts)', () => {
  it('silence: no echo, no answer; times:1 switches itself off', () => {
    const { send } = rig('generic', { faults: { silence: { times: 1 } } });
    expect(send('AT')).toBe('');
    expect(send('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('garbage between lines keeps every real line intact; anywhere adds bytes', () => {
    const a = quiet('generic', { faults: { garbage: { ratio: 1 } } });
    const out = a.send('AT+CSQ');
    expect(out.length).toBeGreaterThan('\r\n+CSQ: 27,99\r\n\r\nOK\r\n'.length);
    expect(out.split('\r\n').filter((l) => /^(\+CSQ: \d+,99|OK)$/.test(l))).toHaveLength(2);
    const b = quiet('generic');
    const clean = b.send('AT+CGSN');
    b.m.setFaults({ garbage: { mode: 'anywhere', ratio: 0.5 } });
    expect(Buffer.from(b.send('AT+CGSN'), 'utf8').length).toBeGreaterThan(clean.length);
  });

  it('late-ok: the information now, OK after delayMs, the next command answered after it', () => {
    vi.useFakeTimers();
    const { m, send, drain } = quiet('simcom-sim800');
    m.setFaults({ 'late-ok': { delayMs: 3000, times: 1 } });
    expect(send('AT+CSQ')).toMatch(/^\r\n\+CSQ: \d+,99\r\n$/);
    m.input(Buffer.from('AT\r'));
    vi.advanceTimersByTime(2999);
    expect(drain()).toBe('');
    vi.advanceTimersByTime(1);
    expect(drain()).toBe('\r\nOK\r\n\r\nOK\r\n');
  });

  it('urc-storm: URCs around the answer, never between a +CMGL header and its PDU', () => {
    const { send, m } = quiet('huawei-e173', { sim: { sms: 4 } });
    m.setFaults({ 'urc-storm': { count: 30, times: 1 } });
    const lines = send('AT+CMGL=4').split('\r\n').filter((l) => l !== '');
    expect(lines.filter((l) => PROFILES['huawei-e173'].stormUrcs.includes(l))).toHaveLength(30);
    lines.forEach((l, i) => {
      if (l.startsWith('+CMGL:')) expect(lines[i + 1]).toMatch(/^[0-9A-F]+$/);
    });
    expect(lines.filter((l) => l === 'OK')).toHaveLength(1);
    expect(m.state.sim?.sms.length).toBe(lines.filter((l) => l.startsWith('+CMGL:')).length);
  });

  it('unplug-mid-command: half the answer, then the plug is pulled and input ignored', () => {
    const { m, send } = quiet('simcom-sim7600');
    m.setFaults({ 'unplug-mid-command': true });
    let pulled = 0;
    m.onUnplug(() => pulled++);
    const half = send('ATI');
    expect(pulled).toBe(1);
    expect(half.length).toBeGreaterThan(0);
    expect('\r\nManufacturer: SIMCOM INCORPORATED\r\n'.startsWith(half) || half.startsWith('\r\nManufacturer')).toBe(true);
    expect(send('AT')).toBe('');
    m.powerOff();
    m.setFaults({});
    expect(send('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('cme-errors: SIM commands fail with +CME/+CMS ERROR even under CMEE=0; others answer', () => {
    const { m, send } = quiet('quectel-ec25');
    m.setFaults({ 'cme-errors': { code: 13, times: 2 } });
    expect(send('AT+CSQ')).toMatch(/^\r\n\+CSQ: \d+,99\r\n\r\nOK\r\n$/);
    expect(send('AT+CIMI')).toBe('\r\n+CME ERROR: 13\r\n');
    expect(send('AT+CMGL=4')).toBe('\r\n+CMS ERROR: 313\r\n');
    expect(send('AT+CIMI')).toMatch(/^\r\n460\d+\r\n\r\nOK\r\n$/);
  });

  it('no-sim: the slot behaves as empty while the switch is on', () => {
    const { m, send } = quiet('simcom-sim800');
    m.setFaults(['no-sim']);
    expect(send('AT+CPIN?')).toBe('\r\nERROR\r\n');
    m.setFaults({});
    expect(send('AT+CPIN?')).toBe('\r\n+CPIN: READY\r\n\r\nOK\r\n');
  });
});

describe('session modes, boot, periodic URCs, PIN and remote SIM', () => {
  it('ATV0 gives numeric results (V.250), ATZ restores echo and verbose', () => {
    const { send } = quiet('generic');
    expect(send('ATV0')).toBe('0\r');
    expect(send('AT+CSQ')).toMatch(/^\+CSQ: \d+,99\r\n0\r$/);
    expect(send('ATZ')).toBe('\r\nOK\r\n'); // the restored profile words the result
    expect(send('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('boot burst RDY … SMS Ready (SIM800 log, §3.3); NOT INSERTED without a SIM', () => {
    const a = rig('simcom-sim800');
    a.m.powerOn({ bootUrcs: true });
    expect(a.drain()).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n');
    const b = rig('quectel-ec25', { sim: false });
    b.m.powerOn({ bootUrcs: true });
    expect(b.drain()).toContain('\r\n+CPIN: NOT INSERTED\r\n');
  });

  it('CENG=2 sends cell pages ending with an empty line (SITCH, §2.2); CCED=1 every 5 s (§2.3)', () => {
    vi.useFakeTimers();
    const a = quiet('simcom-sim800');
    a.send('AT+CENG=2,1');
    vi.advanceTimersByTime(5000);
    expect(a.drain()).toMatch(/^\r\n\+CENG: 0,"[^"]+"\r\n(\+CENG: [1-6],"[^"]+"\r\n){6}\r\n$/);
    const b = quiet('wavecom-q2403');
    b.send('AT+CCED=1,1');
    vi.advanceTimersByTime(5000);
    expect(b.drain()).toMatch(/^\r\n\+CCED:460,\d\d,[0-9a-f]{4},[0-9a-f]{4},\d+,\d+,\d+,,,\d,,,0\r\n$/);
    a.m.dispose();
    b.m.dispose();
  });

  it('a PIN-locked SIM: +CPIN: SIM PIN, +CME ERROR: 11, and entering the PIN is recorded', () => {
    const { m, send } = quiet('quectel-m35', { sim: { pinLocked: true } });
    send('AT+CMEE=1');
    expect(info(send('AT+CPIN?'))).toEqual(['+CPIN: SIM PIN']);
    expect(send('AT+CIMI')).toBe('\r\n+CME ERROR: 11\r\n');
    expect(send('AT+CPIN="1234"')).toBe('\r\nOK\r\n');
    expect(m.attempts).toMatchObject([{ kind: 'pin', applied: true }]);
  });

  it('a remote SIM answers AT+SIMDATA and sends +SIMDATA markers (goip-protocols.md §1.7)', () => {
    const { send } = quiet('generic', { remoteSim: true });
    expect(send('AT+CIMI')).toMatch(/^\r\n\+SIMDATA: "[0-9A-F]+"\r\n\r\n460\d+\r\n\r\nOK\r\n$/);
    expect(send('AT+SIMDATA="A0A40000023F00"')).toBe('\r\nOK\r\n');
    expect(quiet('generic').send('AT+SIMDATA="A0A40000023F00"')).toBe('\r\nERROR\r\n');
  });
});

describe('determinism and replay', () => {
  it('the same seed gives the same module and SIM', () => {
    const spec = { profile: 'quectel-m35' as const, seed: 9 };
    expect(JSON.stringify(createModemState(spec))).toBe(JSON.stringify(createModemState(spec)));
    expect(createModemState(spec).imei).not.toBe(createModemState({ ...spec, seed: 10 }).imei);
  });

  it('TranscriptModem answers from a recorded transcript and notes what it could not', () => {
    const e = (n: number, dir: 'tx' | 'rx', text: string) => ({ n, wall: '2025-03-01T10:00:00.000Z', mono: n, dir, text });
    const entries = [e(1, 'tx', 'AT+CSQ\\r'), e(2, 'rx', 'AT+CSQ'), e(3, 'rx', '+CSQ: 17,99'), e(4, 'rx', 'OK'),
      e(5, 'tx', 'AT+CMGL=4\\r'), e(6, 'rx', '+CMGL: 0,1,,29'), e(7, 'rx', '0791361907001003B17A0C913619397750320000AD11CD701E340FB3C3F23CC81D0689C3BF'), e(8, 'rx', 'OK'),
      e(9, 'tx', 'AT+CGSN\\r'), e(10, 'rx', '354237065082227'), e(11, 'rx', 'OK')];
    expect(serialiseTranscript(entries).split('\n')[1]).toBe('2\t2025-03-01T10:00:00.000Z\t2.000\trx\tAT+CSQ');
    const t = new TranscriptModem(entries, 'p1');
    const out: Buffer[] = [];
    t.onOutput((b) => out.push(b));
    const say = (s: string): string => {
      t.input(Buffer.from(`${s}\r`));
      return Buffer.concat(out.splice(0)).toString('latin1');
    };
    expect(say('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 17,99\r\n\r\nOK\r\n');
    expect(say('AT+CGSN')).toBe('\r\n354237065082227\r\n\r\nOK\r\n');
    expect(say('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 17,99\r\n\r\nOK\r\n');
    expect(say('AT+CMGD=1')).toBe('\r\nERROR\r\n');
    expect(t.notes.join('\n')).toMatch(/skipped 1[\s\S]*repeated[\s\S]*not in the transcript/);
  });
});
