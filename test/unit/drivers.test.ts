/**
 * Modem drivers (drivers/*) and the registry (drivers/index.ts).
 *
 * A scripted AtRunner double replaces the AtChannel (src/at/channel.ts): it answers each command
 * from a per-test script, and a command the script lacks gets ERROR, as MM's simulator does
 * (§1.11). Reply lines are verbatim samples from shared/reference/at-commands.md, each naming its
 * section and source. Like the real channel with the policy plugged in, the double refuses any
 * command classifyCommand refuses; every command any driver sent in this file is checked
 * against the policy once more at the end.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  GenericDriver, readImei, readModuleIdentity, readOperator, readRegistration, readServingCell, readSignal, readSimState,
} from '../../drivers/generic.js';
import { HuaweiDriver, parseHcsq, parseSysinfo } from '../../drivers/huawei.js';
import { DRIVERS, chooseDriver } from '../../drivers/index.js';
import { QuectelDriver, parseQeng2g, parseQengNeighbour, parseQengServing, quectelFamily } from '../../drivers/quectel.js';
import { SimcomDriver, parseCeng, parseCengLine, parseCpsi } from '../../drivers/simcom.js';
import type { CellInfo, ModuleIdentity } from '../../drivers/types.js';
import { CCED_MAIN, CCED_MAIN_TA, CCED_NEIGHBOURS, WavecomDriver, parseCced } from '../../drivers/wavecom.js';
import { classifyCommand } from '../../src/at/policy.js';
import type { AtCommandOptions, AtResponse, AtRunner, FinalResult } from '../../src/at/types.js';

interface Reply {
  lines?: string[];
  final?: FinalResult;
  finalLine?: string;
  errorCode?: number;
  /** A line with no final result after it (Wavecom +CPIN?): ends the command only through customFinal. */
  unterminated?: string;
}
const ok = (...lines: string[]): Reply => ({ lines, final: 'OK', finalLine: 'OK' });
const err = (): Reply => ({ lines: [], final: 'ERROR', finalLine: 'ERROR' });
const cme = (code: number): Reply => ({ lines: [], final: 'CME ERROR', finalLine: `+CME ERROR: ${code}`, errorCode: code });

const everySent: string[] = [];

class ScriptedRunner implements AtRunner {
  readonly sent: string[] = [];
  private readonly queues = new Map<string, Reply[]>();

  constructor(script: Record<string, Reply | Reply[]>, readonly port = '/dev/serial/by-path/platform-usb-0:1.2:1.0-port0') {
    for (const [cmd, r] of Object.entries(script)) this.queues.set(cmd, Array.isArray(r) ? [...r] : [r]);
  }

  async send(command: string, opts?: AtCommandOptions): Promise<AtResponse> {
    this.sent.push(command);
    everySent.push(command);
    const verdict = classifyCommand(command);
    if (!verdict.allowed) throw new Error(`refused by policy: ${command}: ${verdict.reason}`);
    const q = this.queues.get(command);
    // Several replies for one command are used in turn; the last one repeats.
    const reply = (q && q.length > 1 ? q.shift() : q?.[0]) ?? err();
    const base = { command, sentAt: 0, doneAt: 1, transcriptLines: [this.sent.length, this.sent.length] as [number, number] };
    if (reply.unterminated !== undefined) {
      if (!opts?.customFinal?.test(reply.unterminated)) throw new Error(`timeout: ${command} never got a final result`);
      return { ...base, lines: [], final: 'CUSTOM', finalLine: reply.unterminated };
    }
    const out: AtResponse = { ...base, lines: reply.lines ?? [], final: reply.final ?? 'OK', finalLine: reply.finalLine ?? 'OK' };
    if (reply.errorCode !== undefined) out.errorCode = reply.errorCode;
    return out;
  }
}

/** Cells without their raw line, for compact expectations. */
const bare = (cells: CellInfo[]): Array<Omit<CellInfo, 'raw'>> => cells.map(({ raw: _raw, ...c }) => c);

describe('registry: matches() and chooseDriver', () => {
  it.each<[ModuleIdentity, string]>([
    [{ manufacturer: 'Quectel', model: 'EC25' }, 'quectel'],
    [{ model: 'Quectel_M35' }, 'quectel'], // Gammu gsmphones.c model table (§5)
    [{ manufacturer: 'SIMCOM_Ltd', model: 'SIMCOM_SIM800L' }, 'simcom'],
    [{ ati: 'SIM800 R14.18' }, 'simcom'], // SIM800L ATI (§5)
    [{ manufacturer: 'SIMCOM INCORPORATED', model: 'SIMCOM_SIM7600E-H', revision: 'SIM7600M22_V1.1' }, 'simcom'], // §2.2
    [{ manufacturer: 'WAVECOM MODEM', model: 'MULTIBAND  900E  1800', revision: '641b09gg.Q2403A 1320676 061804 14:38' }, 'wavecom'], // §2.3
    [{ model: 'MULTIBAND  900E  1800' }, 'wavecom'],
    [{ manufacturer: 'huawei', model: 'E173' }, 'huawei'], // §5
    [{ manufacturer: 'Some vendor', model: 'Some model' }, 'generic'], // MM gsm-port.conf (§1.11)
    [{}, 'generic'],
  ])('%j → %s', (identity, id) => {
    expect(chooseDriver(identity).id).toBe(id);
  });

  it('a forced driver wins, and generic is listed last', () => {
    expect(chooseDriver({ manufacturer: 'huawei' }, 'generic').id).toBe('generic');
    expect(chooseDriver({}, 'wavecom').baudRate).toBe(9600);
    expect(DRIVERS.map((d) => d.id)).toEqual(['quectel', 'simcom', 'wavecom', 'huawei', 'generic']);
  });

  it('knows the Quectel family from the model', () => {
    expect(quectelFamily({ model: 'EC25' })).toBe('umts-lte');
    expect(quectelFamily({ model: 'UC15' })).toBe('umts-lte');
    expect(quectelFamily({ model: 'Quectel_M35' })).toBe('2g');
    expect(quectelFamily({ model: 'Quectel' })).toBeUndefined();
  });
});

describe('generic 27.007 reads', () => {
  // MM gsm-port.conf (§1.11), answers verbatim.
  const mm = (): ScriptedRunner => new ScriptedRunner({
    'AT+CGMI': ok('Some vendor'),
    'AT+CGMM': err(),
    'ATI': ok('Manufacturer: Some vendor', 'Model: Some model', 'Revision: Some revision', 'IMEI: 001100110011002', '+GCAP: +CGSM,+DS,+ES'),
    'AT+CGSN': ok('123456789012345'),
    'AT+CPIN?': ok('+CPIN: READY'),
    'AT+CSQ': ok('+CSQ: 17,99'),
    'AT+COPS?': [ok('+COPS: 0,0,"vodafone ES"'), ok('+COPS: 0,2,"21401",2'), ok('+COPS: 0,0,"vodafone ES"')],
    'AT+COPS=3,2': ok(),
    'AT+COPS=3,0': ok(),
    'AT+CREG?': ok('+CREG: 2,1,"1234","001122BB"'),
    'AT+CGREG?': ok('+CGREG: 2,1,"31C5","0083F7CD"'),
  });

  it('reads identity, IMEI, SIM state and signal', async () => {
    const at = mm();
    expect(await readModuleIdentity(at)).toEqual({
      manufacturer: 'Some vendor', model: 'Some model', revision: 'Some revision',
      ati: 'Manufacturer: Some vendor\nModel: Some model\nRevision: Some revision\nIMEI: 001100110011002\n+GCAP: +CGSM,+DS,+ES',
    });
    expect(await readImei(at)).toMatchObject({ imei: '123456789012345' });
    expect(await readSimState(at)).toMatchObject({ state: 'READY' });
    const signal = await readSignal(at);
    expect(signal.csq).toMatchObject({ rssiDbm: -79 });
    expect(signal.cesq).toEqual({ error: 'AT+CESQ: ERROR' });
  });

  it('reads the serving cell: numeric operator format asked for and put back', async () => {
    const at = mm();
    expect(bare(await new GenericDriver().readCells(at))).toEqual([
      { role: 'serving', act: 'UMTS', mcc: '214', mnc: '01', lac: '1234', cellId: '001122BB' },
    ]);
    expect(at.sent).toEqual(['AT+COPS?', 'AT+COPS=3,2', 'AT+COPS?', 'AT+COPS=3,0', 'AT+CEREG?', 'AT+CREG?']);
  });

  it('raises +CREG <n> to 2 for LAC and cell id, then puts it back', async () => {
    const at = new ScriptedRunner({ 'AT+CREG?': [ok('+CREG: 0,1'), ok('+CREG: 2,1,"1234","001122BB"')], 'AT+CREG=2': ok(), 'AT+CREG=0': ok() });
    expect(await readRegistration(at, 'CREG')).toMatchObject({ lac: '1234', ci: '001122BB' });
    expect(at.sent).toEqual(['AT+CREG?', 'AT+CREG=2', 'AT+CREG?', 'AT+CREG=0']);
  });

  it('reads a missing SIM from +CME ERROR: 10 (§1.2)', async () => {
    expect(await readSimState(new ScriptedRunner({ 'AT+CPIN?': cme(10) }))).toMatchObject({ state: 'NOT INSERTED' });
  });

  it('ICCID: +CCID refused, READ BINARY of EF_ICCID nibble-swapped (§1.7)', async () => {
    const at = new ScriptedRunner({ 'AT+CRSM=176,12258,0,0,10': ok('+CRSM: 144,0,"984402003576012594F9"') });
    expect(await new GenericDriver().readIccid(at)).toBe('8944200053671052499');
    expect(at.sent).toEqual(['AT+CCID', 'AT+CRSM=176,12258,0,0,10']);
  });

  it('has no cell to report when the module is not registered', async () => {
    const at = new ScriptedRunner({ 'AT+COPS?': ok('+COPS: 0'), 'AT+CREG?': ok('+CREG: 0,2'), 'AT+CGREG?': ok('+CGREG: 0,0') });
    expect(await readServingCell(at)).toBeUndefined();
    expect(await readOperator(at)).toEqual({ mode: 0 });
  });
});

describe('Quectel (§2.1)', () => {
  // EG25 capture (OpenQTI cell.h comment), verbatim.
  const EG25 = {
    'AT+QENG="servingcell"': ok('+QENG: "servingcell","NOCONN","LTE","FDD",214,01,7676A09,188,6300,20,3,3,603,-104,-9,-78,11,23'),
    'AT+QENG="neighbourcell"': ok(
      '+QENG: "neighbourcell intra","LTE",6300,188,-12,-105,-75,-20,23,4,12,10,62',
      '+QENG: "neighbourcell inter","LTE",1501,-,-,-,-,-,-,0,10,7',
      '+QENG: "neighbourcell inter","LTE",3250,-,-,-,-,-,-,0,16,5',
      '+QENG: "neighbourcell","WCDMA",3062,3,16,2,-,-,-,-',
      '+QENG: "neighbourcell","WCDMA",10713,3,16,2,-,-,-,-',
    ),
  };

  it('reads an EG25 serving LTE cell and its neighbours', async () => {
    const at = new ScriptedRunner(EG25);
    const cells = bare(await new QuectelDriver({ manufacturer: 'Quectel', model: 'EG25' }).readCells(at));
    expect(cells[0]).toEqual({ role: 'serving', act: 'LTE', mcc: '214', mnc: '01', cellId: '7676A09', pci: 188, arfcn: 6300, tac: '603', rsrpDbm: -104, rsrqDb: -9 });
    expect(cells.slice(1)).toEqual([
      { role: 'neighbour', act: 'LTE', arfcn: 6300, pci: 188, rsrqDb: -12, rsrpDbm: -105 },
      { role: 'neighbour', act: 'LTE', arfcn: 1501 },
      { role: 'neighbour', act: 'LTE', arfcn: 3250 },
      { role: 'neighbour', act: 'UMTS', arfcn: 3062 },
      { role: 'neighbour', act: 'UMTS', arfcn: 10713 },
    ]);
  });

  it.each([
    ['+QENG:"servingcell","LIMSRV","GSM",460,01,5504,2B55,52,123,0,-67,5,14,64,30,28,0,-,-,-,-,-,-,-,-,-,"-"', { act: 'GSM', mcc: '460', mnc: '01', lac: '5504', cellId: '2B55', bsic: 52, arfcn: 123, rxlevDbm: -67 }],
    ['+QENG:"servingcell","CONNECT","GSM",460,00,550A,2BB9,23,94,0,-61,5,14,4,0,0,0,h,1,0,0,33,50,52,0,0,"EFR"', { act: 'GSM', lac: '550A', cellId: '2BB9', arfcn: 94, rxlevDbm: -61 }],
    ['+QENG: "servingcell","NOCONN","GSM",250,99,DC51,B919,26,50,-,-73,255,255,0,38,38,1,-,-,-,-,-,-,-,-,-,"-"', { mcc: '250', mnc: '99', lac: 'DC51', cellId: 'B919', bsic: 26, arfcn: 50, rxlevDbm: -73 }],
    ['+QENG: "servingcell","CONNECT","CAT-M","FDD",262,03,2FAA03,187,6200,20,3,3,2AFB,-105,-11,-76,10,-', { act: 'LTE', mcc: '262', mnc: '03', cellId: '2FAA03', tac: '2AFB', rsrpDbm: -105, rsrqDb: -11 }],
  ])('serving %s (EC2x manual §6.17 examples and public captures)', (line, expected) => {
    expect(parseQengServing(line)).toMatchObject(expected);
  });

  it('reads "SEARCH" as no cell, and names an unknown RAT', () => {
    expect(parseQengServing('+QENG: "servingcell","SEARCH"')).toBeNull();
    expect(parseQengServing('+QENG: "servingcell","NOCONN","NR5G-SA","FDD"')).toHaveProperty('error');
  });

  it('reads neighbour layouts by serving RAT, dropping -32768 and -1920 sentinels (manual examples)', () => {
    expect(parseQengNeighbour('+QENG: "neighbourcell","WCDMA",10713,-723,398,-880,-155,6,-32768,-', 'UMTS')).toMatchObject({ arfcn: 10713, psc: 398, rscpDbm: -88 });
    const gsm = parseQengNeighbour('+QENG: "neighbourcell","GSM",0,3,14,50,255,0,0,-1920,0', 'LTE');
    expect(gsm).toMatchObject({ act: 'GSM', arfcn: 0, bsic: 0 });
    expect(gsm).not.toHaveProperty('rxlevDbm');
    expect(parseQengNeighbour('+QENG: "neighbourcell inter","LTE",39148,-,-,-,-,-,37,0,30,7,-,-,-,-')).toMatchObject({ arfcn: 39148 });
  });

  it('M35: engineering mode on, read, and the mode found put back (§2.1 M-series capture)', async () => {
    const at = new ScriptedRunner({
      'AT+QENG?': [ok('+QENG: 0,0'), ok('+QENG: 1,0', '+QENG: 0,460,00,592f,2976,520,44,-78,45,69,0,20,x,x,x,x,x,x,x')],
      'AT+QENG=1,1': ok(),
      'AT+QENG=0,0': ok(),
    });
    expect(bare(await new QuectelDriver({ model: 'Quectel_M35' }).readCells(at))).toEqual([
      { role: 'serving', act: 'GSM', mcc: '460', mnc: '00', lac: '592F', cellId: '2976', arfcn: 520, bsic: 44, rxlevDbm: -78 },
    ]);
    expect(at.sent).toEqual(['AT+QENG?', 'AT+QENG=1,1', 'AT+QENG?', 'AT+QENG=0,0']);
  });

  it('without a model, falls back to the 2G form after ERROR and remembers it per port', async () => {
    const at = new ScriptedRunner({ 'AT+QENG?': ok('+QENG: 1,0', '+QENG: 0,460,00,592f,2976,520,44,-78,45,69,0,20,x,x,x,x,x,x,x'), 'AT+QENG=1,1': ok(), 'AT+QENG=1,0': ok() });
    const d = new QuectelDriver();
    expect(await d.readCells(at)).toHaveLength(1);
    expect(at.sent[0]).toBe('AT+QENG="servingcell"');
    at.sent.length = 0;
    await d.readCells(at);
    expect(at.sent[0]).toBe('AT+QENG?');
  });

  it('keeps the unverified M35 neighbour lines raw only (§8)', () => {
    expect(parseQeng2g(['+QENG: 1,0', '+QENG: 1,1,520,-80,44,30,30,460,00,592f,2977'])).toEqual({ mode: [1, 0], cells: [{ role: 'neighbour', act: 'GSM', raw: '+QENG: 1,1,520,-80,44,30,30,460,00,592f,2977' }] });
  });

  it('ICCID by AT+QCCID (bare digits, Quectel M10, §1.7)', async () => {
    expect(await new QuectelDriver().readIccid(new ScriptedRunner({ 'AT+QCCID': ok('89324102234690160476') }))).toBe('89324102234690160476');
  });
});

describe('SIMCom (§2.2)', () => {
  // SITCH fixtures ceng-SIM800L.txt, ceng-SIM808.txt, ceng-SIM900.txt (sitch-io/sensor @4ad44e08).
  const SIM800L = ['+CENG: 0,"0666,21,00,310,260,08,4e72,04,03,0113,255"', '+CENG: 1,"1688,16,25,a53f,310,260,0113"', '+CENG: 2,"1702,14,51,a53d,310,260,0113"', '+CENG: 6,"1698,06,62,4f2f,310,260,0113"'];

  it('SIM800: +CENG=3 refused, 1,1 used, the mode found put back', async () => {
    const at = new ScriptedRunner({ 'AT+CENG?': [ok('+CENG: 0,0'), ok('+CENG: 1,1', ...SIM800L)], 'AT+CENG=1,1': ok(), 'AT+CENG=0': ok() });
    const cells = bare(await new SimcomDriver({ ati: 'SIM800 R14.18' }).readCells(at));
    expect(at.sent).toEqual(['AT+CENG?', 'AT+CENG=3', 'AT+CENG=1,1', 'AT+CENG?', 'AT+CENG=0']);
    expect(cells[0]).toEqual({ role: 'serving', act: 'GSM', arfcn: 666, rxlevDbm: -90, mcc: '310', mnc: '260', bsic: 8, cellId: '4E72', lac: '0113' });
    expect(cells[1]).toEqual({ role: 'neighbour', act: 'GSM', arfcn: 1688, rxlevDbm: -95, bsic: 25, cellId: 'A53F', mcc: '310', mnc: '260', lac: '0113' });
    expect(cells).toHaveLength(4);
  });

  it('reads SIM808 and SIM900 pages: no cell id, placeholders, out-of-range BSIC', () => {
    const r = parseCeng(['+CENG: 0,"0154,28,00,310,411,12,000f,00,05,178d,255"', '+CENG: 1,"0128,15,30,310,411,178d"', '+CENG: 3,"0233,26,00,,,0000"',
      '+CENG:0,"0668,13,99,310,260,59,5431,05,03,fd,0"', '+CENG:5,"0663,01,156,542f,310,260,fd"', '+CENG:6,"0727,06,127,ffff,000,00,0"']);
    expect(r.malformed).toEqual([]);
    expect(bare(r.cells)).toEqual([
      { role: 'serving', act: 'GSM', arfcn: 154, rxlevDbm: -83, mcc: '310', mnc: '411', bsic: 12, cellId: '000F', lac: '178D' },
      { role: 'neighbour', act: 'GSM', arfcn: 128, rxlevDbm: -96, bsic: 30, mcc: '310', mnc: '411', lac: '178D' },
      { role: 'neighbour', act: 'GSM', arfcn: 233, rxlevDbm: -85, bsic: 0 },
      { role: 'serving', act: 'GSM', arfcn: 668, rxlevDbm: -98, mcc: '310', mnc: '260', bsic: 59, cellId: '5431', lac: 'FD' },
      { role: 'neighbour', act: 'GSM', arfcn: 663, rxlevDbm: -110, cellId: '542F', mcc: '310', mnc: '260', lac: 'FD' },
      { role: 'neighbour', act: 'GSM', arfcn: 727, rxlevDbm: -105, mnc: '00' },
    ]);
  });

  it.each([
    ['+CENG: 0,"0154,28,00,310,411,12,000f,00,05,178d,255"', 154],
    ['+CENG:0,"0672,12,99,310,260,80,0007,06,242,113,2"', 672],
    ['+CENG: 1,"0128,15,30,310,411,178d"', 128],
  ])('SITCH unit test %s → ARFCN %d', (line, arfcn) => {
    expect(parseCengLine(line)).toMatchObject({ cell: { arfcn } });
  });

  it('reads the mode-3 form of the SIM800 manual (V1.09 p.161; values ours, no capture exists)', () => {
    expect(parseCengLine('+CENG: 0,460,00,5504,2b55,52,33')).toMatchObject({ cell: { mcc: '460', mnc: '00', lac: '5504', cellId: '2B55', bsic: 52, rxlevDbm: -78 } });
  });

  it('SIM7600: the first AT+CPSI? after opening may be ERROR ("enter twice"), the second is read', async () => {
    const at = new ScriptedRunner({ 'AT+CPSI?': [err(), ok('+CPSI: LTE,Online,228-02,0x9CA4,20964868,46,EUTRAN-BAND20,6200,3,3,-178,-1089,-742,8')] });
    const cells = bare(await new SimcomDriver({ model: 'SIMCOM_SIM7600E-H' }).readCells(at));
    expect(cells).toEqual([{ role: 'serving', act: 'LTE', mcc: '228', mnc: '02', tac: '9CA4', cellId: (20964868).toString(16).toUpperCase(), pci: 46, arfcn: 6200, rsrqDb: -17.8, rsrpDbm: -108.9 }]);
    expect(at.sent).toEqual(['AT+CPSI?', 'AT+CPSI?']);
  });

  it.each([
    ['+CPSI: LTE,Online,262-02,0xB0F5,13179412,448,EUTRAN-BAND1,100,4,4,-122,-1184,-874,9', { rsrqDb: -12.2, rsrpDbm: -118.4, arfcn: 100 }], // OVMS
    ['+CPSI: LTE,Online,505-02,0xCBE8,36519691,101,EUTRAN-BAND3,1800,5,5,-147,-1143,-764,11', { rsrqDb: -14.7, rsrpDbm: -114.3 }], // ArduPilot
    ['+CPSI: LTE CAT-M1,Online,505-01,0x2036,134523149,238,EUTRAN-BAND28,9410,5,5,-20,-116,-82,6', { act: 'LTE', rsrqDb: -20, rsrpDbm: -116 }], // plain dB
    ['+CPSI: LTE,Online,460-01,0x230A,175499523,318,EUTRAN-BAND3,1650,5,0,21,67,255,19', { rsrqDb: -9.5, rsrpDbm: -74 }], // oFono: raw indices
    ['+CPSI: GSM,Online,262-02,0x011f,14822,4 EGSM 900,-67,0,40-40', { act: 'GSM', lac: '011F', cellId: '39E6', arfcn: 4, rxlevDbm: -67 }], // OVMS
    ['+CPSI: WCDMA, Online,310-410,0xD8DF,57659107,WCDMA 850,354,4385,0,5.5,55,37,60,500', { act: 'UMTS', lac: 'D8DF', psc: 354, arfcn: 4385 }],
  ])('%s', (line, expected) => {
    expect(parseCpsi(line)).toMatchObject(expected);
  });

  it('without a model, tries +CPSI?, then +CENG, then +CPSI? once more', async () => {
    const at = new ScriptedRunner({ 'AT+CPSI?': [err(), ok('+CPSI: NO SERVICE,Online')] });
    expect(await new SimcomDriver().readCells(at)).toEqual([]);
    expect(at.sent).toEqual(['AT+CPSI?', 'AT+CENG?', 'AT+CPSI?']);
  });

  it('reads "NO SERVICE" as no cell', () => {
    expect(parseCpsi('+CPSI: NO SERVICE,Online')).toBeNull();
  });

  it('ICCID by AT+CCID (SIM800, bare) or AT+CICCID (SIM7600, +ICCID:)', async () => {
    expect(await new SimcomDriver().readIccid(new ScriptedRunner({ 'AT+CCID': ok('89324102234690160476') }))).toBe('89324102234690160476');
    const at = new ScriptedRunner({ 'AT+CICCID': ok('+ICCID: 8944200053671052499F') });
    expect(await new SimcomDriver().readIccid(at)).toBe('8944200053671052499');
    expect(at.sent).toEqual(['AT+CCID', 'AT+CICCID']);
  });
});

describe('Wavecom (§2.3)', () => {
  // Multi-Tech S000293I example, as reconstructed in §2.3: main cell (13), six neighbours (7 each), TA.
  const EXAMPLE = '+CCED:208,20,0002,0418,37,706,24,,,0,,,0,208,20,0006,989b,37,835,20,208,20,0002,02a9,37,831,12,208,20,0101,7966,34,818,5,208,20,0006,9899,39,713,9,208,20,0002,0a72,33,711,12,208,20,0101,03fb,36,824,10,1';

  it('splits a combined dump into the main cell and six neighbours', () => {
    const r = parseCced(EXAMPLE, CCED_MAIN | CCED_NEIGHBOURS | CCED_MAIN_TA);
    if ('error' in r) throw new Error(r.error);
    expect(r.map((c) => [c.role, c.lac, c.cellId, c.arfcn, c.rxlevDbm])).toEqual([
      ['serving', '0002', '0418', 706, -87], ['neighbour', '0006', '989B', 835, -91], ['neighbour', '0002', '02A9', 831, -99],
      ['neighbour', '0101', '7966', 818, -106], ['neighbour', '0006', '9899', 713, -102], ['neighbour', '0002', '0A72', 711, -99],
      ['neighbour', '0101', '03FB', 824, -101],
    ]);
    expect(r[0]).toMatchObject({ mcc: '208', mnc: '20', bsic: 37 });
  });

  it('reads a main cell without CI (12 fields, azmanual p.107)', () => {
    expect(parseCced('+CCED:208,20,0002,37,706,24,,,0,,,0', CCED_MAIN)).toEqual([expect.objectContaining({ lac: '0002', bsic: 37, arfcn: 706 })]);
  });

  it('asks for the main cell and the neighbours in two one-shot dumps', async () => {
    const main = EXAMPLE.split(',').slice(0, 13).join(',');
    const neighbours = `+CCED:${EXAMPLE.split(',').slice(13, 55).join(',')}`;
    const at = new ScriptedRunner({ 'AT+CCED=0,1': ok(main), 'AT+CCED=0,2': ok(neighbours) });
    const cells = await new WavecomDriver().readCells(at);
    expect(cells.map((c) => c.role)).toEqual(['serving', 'neighbour', 'neighbour', 'neighbour', 'neighbour', 'neighbour', 'neighbour']);
    expect(at.sent).toEqual(['AT+CCED=0,1', 'AT+CCED=0,2']);
  });

  it('gets +CPIN: READY with no OK through the custom final it asks for (MM wavecom plugin, Gammu F_CPIN_NO_OK)', async () => {
    const at = (): ScriptedRunner => new ScriptedRunner({ 'AT+CPIN?': { unterminated: '+CPIN: READY' } });
    const wavecom = chooseDriver({ manufacturer: 'WAVECOM MODEM' });
    expect(await readSimState(at(), wavecom)).toMatchObject({ state: 'READY' });
    await expect(readSimState(at())).rejects.toThrow(/timeout/);
    expect(wavecom.baudRate).toBe(9600);
  });
});

describe('Huawei (§2.4)', () => {
  it('init silences URC noise with ^CURC=0 after recording the setting found', async () => {
    const at = new ScriptedRunner({ 'ATE0': ok(), 'AT+CMEE=1': ok(), 'AT^CURC?': ok('^CURC: 1'), 'AT^CURC=0': ok() });
    await new HuaweiDriver().init(at);
    expect(at.sent).toEqual(['ATE0', 'AT+CMEE=1', 'AT^CURC?', 'AT^CURC=0']);
  });

  it('reads the ICCID from ^ICCID? even nibble-swapped', async () => {
    expect(await new HuaweiDriver().readIccid(new ScriptedRunner({ 'AT^ICCID?': ok('^ICCID: 98231420326409614067') }))).toBe('89324102234690160476');
  });

  it('serving cell from +CREG, act from ^SYSINFOEX, levels from ^HCSQ', async () => {
    const at = new ScriptedRunner({
      'AT+COPS?': ok('+COPS: 0,2,"46001",2'),
      'AT+CREG?': ok('+CREG: 2,1,8BE3,2BAF'), // Huawei E160G (§1.3)
      'AT^SYSINFOEX': ok('^SYSINFOEX:2,4,5,1,,3,"WCDMA",41,"HSPA+"'),
      'AT^HCSQ?': ok('^HCSQ: "WCDMA",30,30,58'),
    });
    expect(bare(await new HuaweiDriver().readCells(at))).toEqual([{ role: 'serving', act: 'UMTS', mcc: '460', mnc: '01', lac: '8BE3', cellId: '2BAF' }]);
  });

  it('falls back to ^SYSINFO on a stick without ^SYSINFOEX (E173 era)', async () => {
    const at = new ScriptedRunner({ 'AT+COPS?': ok('+COPS: 0,2,"46001"'), 'AT+CREG?': ok('+CREG: 2,1,8BE3,2BAF'), 'AT^SYSINFO': ok('^SYSINFO:2,3,0,5,1,,4'), 'AT^HCSQ?': err() });
    expect((await new HuaweiDriver().readCells(at))[0]).toMatchObject({ act: 'UMTS' });
    expect(at.sent).toContain('AT^SYSINFOEX');
  });

  it.each([
    ['^SYSINFO:2,4,5,3,1', { srvStatus: 2, srvDomain: 4, roamStatus: 5, sysMode: 3, simState: 1, sysSubmode: undefined }],
    ['^SYSINFO:2,4,5,3,1,', { sysMode: 3, sysSubmode: undefined }],
    ['^SYSINFO:2,4,5,3,1,,', { sysMode: 3, sysSubmode: undefined }],
    ['^SYSINFO:2,4,5,3,1,6', { sysMode: 3, sysSubmode: undefined }],
    ['^SYSINFO:2,4,5,3,1,,6', { sysSubmode: 6, accessTechnology: 'HSPA' }],
    ['^SYSINFO:2,4,5,3,1,0,6', { sysSubmode: 6 }],
    ['^SYSINFO: 2,4,5,3,1,0,6', { sysSubmode: 6 }],
    ['^SYSINFOEX:2,4,5,1,,3,WCDMA,41,HSPA+', { extended: true, srvStatus: 2, simState: 1, sysMode: 3, sysModeName: 'WCDMA', sysSubmode: 41, sysSubmodeName: 'HSPA+', accessTechnology: 'UMTS' }],
    ['^SYSINFOEX:2,4,5,1,,3,"WCDMA",41,"HSPA+"', { sysSubmode: 41 }],
    ['^SYSINFOEX: 2,4,5,1,0,3,"WCDMA",41,"HSPA+"', { sysSubmode: 41 }],
  ])('%s (MM test-modem-helpers-huawei.c)', (line, expected) => {
    const r = parseSysinfo(line);
    const present = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
    expect(r).toMatchObject(present);
    if ('sysSubmode' in expected && expected.sysSubmode === undefined) expect(r).not.toHaveProperty('sysSubmode');
  });

  it.each([
    ['^HCSQ:"LTE",30,19,66,0', { sysmode: 'LTE', values: [30, 19, 66, 0], rssiDbm: -91, rsrpDbm: -122, sinrDb: -7, rsrqDb: -20 }],
    ['^HCSQ: "WCDMA",30,30,58', { sysmode: 'WCDMA', values: [30, 30, 58], rssiDbm: -91, ecioDb: -3.5 }],
    ['^HCSQ: "GSM",36,255', { sysmode: 'GSM', values: [36, 255], rssiDbm: -85 }],
    ['^HCSQ: LTE,33,40,135,11', { sysmode: 'LTE', values: [33, 40, 135, 11] }],
  ])('%s (MM HCSQ vectors)', (line, expected) => {
    expect(parseHcsq(line)).toMatchObject(expected);
  });

  it('^HCSQ: "NOSERVICE" is an error, as in MM', () => {
    expect(parseHcsq('^HCSQ: "NOSERVICE"')).toHaveProperty('error');
  });
});

describe('read-only policy over every driver', () => {
  it('every driver init and read runs with the policy refusing (a refused command would throw)', async () => {
    const ids: ModuleIdentity[] = [{ manufacturer: 'Quectel', model: 'EC25' }, { model: 'Quectel_M35' }, { ati: 'SIM800 R14.18' }, { model: 'SIMCOM_SIM7600E-H' }, { manufacturer: 'WAVECOM MODEM' }, { manufacturer: 'huawei' }, {}];
    for (const identity of ids) {
      const driver = chooseDriver(identity);
      // Every command answered OK with no lines: each driver walks its success path (the
      // fallbacks run in the scenarios above, and afterAll checks those commands too).
      const at = new ScriptedRunner({});
      const okAll = at.send.bind(at);
      at.send = async (c, o) => ({ ...(await okAll(c, o)), final: 'OK', finalLine: 'OK' });
      await driver.init(at);
      await driver.readIccid(at);
      await driver.readCells(at);
      await readModuleIdentity(at);
      await readImei(at);
      expect(at.sent.length).toBeGreaterThan(3);
    }
  });

  afterAll(() => {
    const refused = [...new Set(everySent)].filter((c) => !classifyCommand(c).allowed);
    expect(refused).toEqual([]);
  });
});
