/**
 * The read-only command policy (src/at/policy.ts).
 *
 * Refused commands are the ones the brief and at-commands.md name: SMS delete/write/send
 * (27.005), SIM writes through +CRSM/+CSIM (27.007 §8.17/§8.18 instruction codes), profile
 * saves, radio off, calls, and the IMEI-rewrite commands of §5 (AT+EGMR, AT+SIMEI). The allowed
 * lines are what a survey or a dump sends: MM's init and probe commands (§1.1, §1.6, §1.11) and
 * each vendor driver's cell-info commands (§2).
 */
import { describe, expect, it } from 'vitest';
import { classifyCommand, refusalReason } from '../../src/at/policy.js';

describe('refused commands, each with its reason', () => {
  it.each([
    ['AT+CMGD=1', /deletes SMS/],
    ['AT+CMGD=1,4', /deletes SMS/],
    ['AT+CMGW="+8613800000000"', /writes an SMS/],
    ['AT+CMSS=3', /sends an SMS from storage/],
    ['AT+CMGS=24', /sends an SMS/],
    ['AT+CMGC=2', /SMS command/],
    ['AT+CNMA', /acknowledges/],
    ['AT+CPBW=1,"10086",129,"CMCC"', /phonebook/],
    ['AT+CRSM=214,28474,0,0,3,"FFFFFF"', /UPDATE BINARY writes a SIM file/],
    ['AT+CRSM=220,28474,1,4,3,"FFFFFF"', /UPDATE RECORD writes a SIM file/],
    ['AT+CRSM=219,28474,0,0,0', /SET DATA/],
    ['AT+CSIM=14,"A0D6000003FFFFFF"', /updates a SIM file/],
    ['AT+CSIM=10,"0020000108"', /PIN/],
    ['AT+CSIM=10,"A088000010"', /authentication/],
    ['AT&W', /saves the active settings/],
    ['AT&W0', /saves the active settings/],
    ['AT+CPWD="SC","1234","0000"', /password/],
    ['AT+CLCK="SC",1,"1234"', /locks or unlocks/],
    ['AT+CLCK="SC",0,"1234"', /locks or unlocks/],
    ['AT+CPOL=1,2,"46000"', /preferred-operator list/],
    ['AT+CPIN="1234"', /wrong attempts block the SIM/],
    ['AT+CSAS', /saves SMS settings/],
    ['AT+CRES=0', /restores saved SMS settings/],
    ['AT+CSCA="+8613800100500",145', /service-centre/],
    ['AT+EGMR=1,7,"356938035643809"', /IMEI/], // §5
    ['AT+EGMR=1,7', /IMEI/], // §5: labelled a "query" in one thread, a write on some firmware
    ['AT+EGMR=2,7', /IMEI/], // §5: the read form of another firmware, refused all the same
    ['AT+EGMR=?', /IMEI/],
    ['AT+SIMEI="356938035643809"', /IMEI/], // §5 LilyGO SIM7000G
    ['AT+SIMEI?', /IMEI/],
    ['AT+CGSN=356938035643809', /new IMEI/],
    ['AT+CGSN=1', /new IMEI/],
    ['AT^CIMEI="356938035643809"', /IMEI/],
    ['AT+WIMEI="356938035643809"', /IMEI/],
    ['AT^DATALOCK="12345678"', /NV/],
    ['AT^NVWR=0,8,0,0', /NV item/],
    ['AT+QNVW=550,0,"0102"', /NV item/],
    ['AT+CFUN=0', /radio off/],
    ['AT+CFUN=4', /radio off/],
    ['AT+CFUN=1,1', /reboots/],
    ['AT+CFUN=7', /functionality level/],
    ['ATZ', /saved profile/],
    ['ATZ0', /saved profile/],
    ['AT&F', /factory settings/],
    ['ATD10086;', /never places calls/],
    ['ATDT+8613800000000', /never places calls/],
    ['ATA', /answers/],
    ['ATH', /hangs up/],
    ['AT+CHUP', /hangs up/],
    ['ATS0=1', /S-register/],
    ['AT+CUSD=1,"*100#",15', /USSD/],
    ['AT+COPS=0', /network registration/],
    ['AT+COPS=1,2,"46000"', /network registration/],
    ['AT+COPS=2', /network registration/],
    ['AT+CNMI=2,2,0,0,0', /without storing/],
    ['AT+CNMI=2,3', /without storing/],
    ['AT+QFOTADL="http://x/fw.zip"', /firmware/],
    ['AT+WDWL', /firmware/],
    ['AT+CRESET', /resets the module/],
    ['AT^RESET', /resets the module/],
    ['AT+QPOWD=1', /powers the module down/],
    ['AT+CGDCONT=1,"IP","cmnet"', /PDP context/],
    ['AT+IPR=9600', /port speed/],
    ['AT+CMUX=0', /multiplexer/],
    ['AT^SYSCFG=2,2,3FFFFFFF,1,2', /Huawei mode/],
    ['AT+QCFG="nwscanmode",3', /Quectel configuration/],
    ['AT+CCLK="24/05/01,10:00:00+32"', /clock/],
    ['AT+CSMP=17,167,0,8', /SMS parameters/],
    ['AT+XYZZY', /not on the read-only allow-list/],
    ['AT+CENG=5', /unknown \+CENG mode/],
    ['AT+QENG="anything"', /unknown \+QENG request/],
    ['A/', /not an AT command line/],
    ['', /not an AT command line/],
    ['hello', /not an AT command line/],
    ['AT+CMGS="10086"\r\x1a', /control character/],
    ['AT\x1b', /control character/],
  ])('%j is refused', (cmd, why) => {
    const v = classifyCommand(cmd);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(why);
  });
});

describe('read commands a survey or a dump needs are allowed', () => {
  it.each([
    'AT', 'ATE0', 'ATE1', 'ATV1', 'ATQ0', 'ATX4', 'ATI', 'ATI3', 'AT&V', 'ATS0?', // V.250 basics (§1.1, §3.10)
    'AT+CMEE=1', 'AT+CMEE=2',
    'AT+CGMI', 'AT+CGMM', 'AT+CGMR', 'AT+GMI', 'AT+GMM', 'AT+GMR', 'AT+GCAP', 'AT+CGSN', 'AT+GSN', 'AT+CGSN=?', // identity, IMEI read (§1.1, §5)
    'AT+CPIN?', 'AT+CIMI', 'AT+CCID', 'AT+ICCID', 'AT+CICCID', 'AT+QCCID', 'AT^ICCID?', 'AT+CNUM', // SIM (§1.7)
    'AT+CRSM=176,12258,0,0,10', 'AT+CRSM=178,28476,1,4,176', 'AT+CRSM=192,12258,0,0,15', 'AT+CRSM=242,0,0,0,0', // READ BINARY/RECORD, GET RESPONSE, STATUS
    'AT+CSIM=10,"A0B000000A"', 'AT+CSIM=14,"00A4000C022FE2"',
    'AT+CLCK="SC",2', 'AT+CLCK=?', 'AT+CPOL?', 'AT+CSCA?', 'AT+CFUN?', 'AT+CFUN=1', 'AT+CPWD=?',
    'AT+COPS?', 'AT+COPS=?', 'AT+COPS=3,2', 'AT+COPS=3,0', 'AT+COPS=3,2;+COPS?', 'AT+COPS=3,0;+COPS?', // MM gsm-port.conf (§1.11)
    'AT+CREG?', 'AT+CGREG?', 'AT+CEREG?', 'AT+CREG=2', 'AT+CGREG=0', 'AT+CEREG=2', 'AT+CSQ', 'AT+CESQ', // §1.3, §1.5
    'AT+CSCS=?', 'AT+CSCS="UCS2"', 'AT+CSCS=UCS2', 'AT+CSCS="GSM"', 'AT+CSCS="IRA"', // §3.5: quoted and unquoted
    'AT+CMGF=0', 'AT+CMGF=1', 'AT+CMGF=?', 'AT+CPMS?', 'AT+CPMS=?', 'AT+CPMS="SM"', 'AT+CPMS="SM","SM","SM"', 'AT+CPMS="ME","ME"',
    'AT+CMGL=4', 'AT+CMGL="ALL"', 'AT+CMGL="REC UNREAD"', 'AT+CMGL=4,1', 'AT+CMGR=1', 'AT+CMGR=12,1', 'AT+CMGD=?', 'AT+CSDH=1',
    'AT+CNMI=2,1,0,0,0', 'AT+CNMI?', 'AT+CLIP=1', 'AT+CRC=1', 'AT+CUSD=1', 'AT+CUSD=2', 'AT+CUSD?',
    'AT+CPBS="SM"', 'AT+CPBR=1,250', 'AT+CPBR=?', 'AT+CPBF="mum"', 'AT+CLCC', 'AT+CPAS', 'AT+CEER', 'AT+CBC', 'AT+CLAC', 'AT+COPN',
    'AT+QENG="servingcell"', 'AT+QENG="neighbourcell"', 'AT+QENG=1,1', 'AT+QENG=1', 'AT+QENG?', 'AT+QENG=0', // §2.1
    'AT+CENG=3', 'AT+CENG=1,1', 'AT+CENG=2,1', 'AT+CENG?', 'AT+CENG=0', 'AT+CPSI?', // §2.2
    'AT+CCED=0,1', 'AT+CCED=0,2', 'AT+CCED=0,15', 'AT+CCED=0', // §2.3
    'AT^CURC=0', 'AT^CURC?', 'AT^SYSINFO', 'AT^SYSINFOEX', 'AT^HCSQ?', 'AT^SYSCFG?', // §2.4
    'AT+IPR?', 'AT+CCLK?', 'AT+QCFG=?',
  ])('%s', (cmd) => {
    expect(classifyCommand(cmd)).toEqual({ allowed: true });
  });
});

describe('command-line syntax', () => {
  it('is case-insensitive', () => {
    expect(classifyCommand('at+cmgd=1').allowed).toBe(false);
    expect(classifyCommand('at+cmgl=4').allowed).toBe(true);
    expect(classifyCommand('At^SysInfoEx').allowed).toBe(true);
  });

  it('ignores spaces outside quotes, so they do not hide a command', () => {
    expect(classifyCommand('AT + CMGD = 1').allowed).toBe(false);
    expect(classifyCommand(' AT+CMGL = 4 ').allowed).toBe(true);
    expect(classifyCommand('AT+CPBF="a b"').allowed).toBe(true);
  });

  it('checks every part of a chained line and names the refused part', () => {
    expect(classifyCommand('AT+CMGF=0;+CMGL=4')).toEqual({ allowed: true });
    expect(classifyCommand('ATE0;+CMEE=1')).toEqual({ allowed: true });
    expect(classifyCommand('ATE0V1+CMEE=1')).toEqual({ allowed: true });
    expect(classifyCommand('AT+CMGL=4;+CMGD=1,4')).toMatchObject({ allowed: false, part: '+CMGD=1,4', reason: expect.stringMatching(/deletes/) });
    expect(classifyCommand('AT+CMGF=0;AT+CMGD=1')).toMatchObject({ allowed: false, part: '+CMGD=1' }); // repeated AT, not V.250 but seen
    expect(classifyCommand('ATE0&W')).toMatchObject({ allowed: false, part: '&W' });
    expect(classifyCommand('ATE0Z')).toMatchObject({ allowed: false, part: 'Z' });
    expect(classifyCommand('AT+CSQ;D10086')).toMatchObject({ allowed: false, reason: expect.stringMatching(/dials/) });
  });

  it('does not split on a semicolon inside quotes', () => {
    expect(classifyCommand('AT+CPBF="a;+CMGD=1"').allowed).toBe(true);
    expect(classifyCommand('AT+CPBF="a";+CMGD=1').allowed).toBe(false);
  });

  it('tolerates the CR a caller may leave on the line', () => {
    expect(classifyCommand('AT+CSQ\r').allowed).toBe(true);
  });

  it('gives the channel a refusal string, or undefined to send', () => {
    expect(refusalReason('AT+CSQ')).toBeUndefined();
    expect(refusalReason('AT+CSQ;+CMGD=1')).toMatch(/deletes SMS .*\(\+CMGD=1\)/);
  });
});
