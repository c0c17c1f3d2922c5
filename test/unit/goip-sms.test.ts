/**
 * GoIP SMS-server protocol analyzer. Vectors are copied from goip-protocols.md §1.1 ("Consolidated
 * test vectors" and the §1.1.2-§1.1.4 tables); each row names where its format comes from. Rows
 * marked "synthetic" are built from a documented format where no real sample exists.
 */
import { describe, expect, it } from 'vitest';
import { analyzeGoipSms, looksLikeGoipSms } from '../../src/protocols/goip-sms.js';
import type {
  AnalyzerResult,
  Endpoint,
  GoipCommandObservation,
  GoipEventObservation,
  GoipKeepAliveObservation,
  GoipKeepAliveReplyObservation,
  GoipSmsObservation,
  PacketContext,
} from '../../src/protocols/types.js';

const GATEWAY: Endpoint = { ip: '192.168.1.31', port: 5060, mac: '38:3f:10:05:d7:9d' };
const SERVER: Endpoint = { ip: '203.0.113.7', port: 44444 };

function ctx(src: Endpoint, dst: Endpoint): PacketContext {
  return { src, dst, transport: 'udp', ts: 1_571_812_849_000, ref: { file: 2, frames: [17] } };
}

function analyze(text: string | Buffer, src = GATEWAY, dst = SERVER): AnalyzerResult | null {
  return analyzeGoipSms(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, ctx(src, dst));
}

/** The single observation of a result that must have exactly one, with no malformed entry. */
function only<T>(result: AnalyzerResult | null): T {
  expect(result?.malformed).toBeUndefined();
  expect(result?.observations).toHaveLength(1);
  return result!.observations[0] as T;
}

function malformedReason(result: AnalyzerResult | null): string | undefined {
  expect(result?.observations).toEqual([]);
  return result?.malformed?.[0]?.reason;
}

const KEEPALIVE_27 =
  'req:27;id:gateway_name;pass:gateway_password;num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;' +
  'remain_time:-1;imei:867495023958030;imsi:260060172091324;iccid:89480611000720913242;pro:POL;idle:11;disable_status:0;' +
  'SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;';
const KEEPALIVE_3 =
  'req:3;id:goip-1;pass:goip;num:;signal:;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;' +
  'imei:000000000000000;imsi:000000000000000;iccid:00000000000000000000;pro:CHINA UNICOM GSM;idle:1;disable_status:0;' +
  'SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:FFFF,CELL ID:FFFF;CGATT:Y;';

describe('keep-alive (goip-protocols.md §1.1.1)', () => {
  const rows: Array<{ name: string; source: string; packet: string; expected: Partial<GoipKeepAliveObservation>; absent: string[] }> = [
    {
      name: 'reads every field of a full firmware keep-alive',
      source: 'goip-protocols.md §1.1.1, styryl/node-goip test/samples.js',
      packet: KEEPALIVE_27,
      expected: {
        count: 27, channelId: 'gateway_name', password: 'gateway_password', signal: 29, gsmStatus: 'LOGIN',
        voipStatus: 'LOGOUT', voipState: 'IDLE', remainTime: -1, imei: '867495023958030', imsi: '260060172091324',
        iccid: '89480611000720913242', carrier: 'POL', idle: 11, disableStatus: '0', smsLogin: 'N', lac: '7E5',
        cell: '5E5B', cgatt: 'Y',
      },
      absent: ['num', 'smbLogin'],
    },
    {
      name: 'treats an empty signal as absent and keeps a carrier name with spaces',
      source: 'goip-protocols.md §1.1.1, NiceLabs sms/udpstack/notify_test.go',
      packet: KEEPALIVE_3,
      expected: { count: 3, channelId: 'goip-1', password: 'goip', carrier: 'CHINA UNICOM GSM', idle: 1, lac: 'FFFF', cell: 'FFFF' },
      absent: ['signal', 'num', 'smbLogin'],
    },
    {
      name: 'reads the short keep-alive of the official example',
      source: 'goip-protocols.md §1.1.1, official EN PDF §2 example',
      packet: 'req:10;id:goipid1;pass:password1;num:12345;signal:23;gsm_status:LOGIN;voip_status:LOGIN;',
      expected: { count: 10, channelId: 'goipid1', password: 'password1', num: '12345', signal: 23, gsmStatus: 'LOGIN', voipStatus: 'LOGIN' },
      absent: ['imei', 'lac', 'cell'],
    },
    {
      name: 'reads a keep-alive cut after the carrier',
      source: 'goip-protocols.md §1.1.1, iivorait/GoIP-SMS-receiver receive.php comment',
      packet: 'req:19;id:goip01;pass:XXX;num:;signal:15;gsm_status:LOGIN;voip_status:LOGIN;voip_state:IDLE;remain_time:-1;imei:123455;imsi:345667;iccid:678890;pro:dna;',
      expected: { count: 19, channelId: 'goip01', password: 'XXX', signal: 15, imei: '123455', imsi: '345667', iccid: '678890', carrier: 'dna' },
      absent: ['idle', 'disableStatus'],
    },
    {
      name: 'accepts password: in place of pass:',
      source: 'synthetic, goip-protocols.md §1.1.5 pitfall 3',
      packet: 'req:4;id:goip-2;password:secret;num:(null);signal:99;gsm_status:LOGOUT;voip_status:LOGOUT;imei:<NULL>;',
      expected: { count: 4, channelId: 'goip-2', password: 'secret', signal: 99, gsmStatus: 'LOGOUT' },
      absent: ['num', 'imei'],
    },
  ];

  it.each(rows)('$name', ({ packet, expected, absent }) => {
    const obs = only<GoipKeepAliveObservation>(analyze(packet));
    expect(obs.kind).toBe('goip-keepalive');
    expect(obs).toMatchObject(expected);
    for (const key of absent) expect(obs).not.toHaveProperty(key);
  });

  it('keeps every raw field in order with its key case, empty values included', () => {
    const obs = only<GoipKeepAliveObservation>(analyze(KEEPALIVE_27));
    expect(obs.fields.map(([key]) => key)).toEqual([
      'req', 'id', 'pass', 'num', 'signal', 'gsm_status', 'voip_status', 'voip_state', 'remain_time', 'imei', 'imsi',
      'iccid', 'pro', 'idle', 'disable_status', 'SMS_LOGIN', 'SMB_LOGIN', 'CELLINFO', 'CGATT',
    ]);
    expect(obs.fields[3]).toEqual(['num', '']);
    expect(obs.fields[17]).toEqual(['CELLINFO', 'LAC:7E5,CELL ID:5E5B']);
  });

  it('says the keep-alive is about the gateway that sent it, with the frame reference as given', () => {
    const obs = only<GoipKeepAliveObservation>(analyze(KEEPALIVE_3));
    expect(obs.device).toEqual(GATEWAY);
    expect(obs.peer).toEqual(SERVER);
    expect(obs.ts).toBe(1_571_812_849_000);
    expect(obs.ref).toEqual({ file: 2, frames: [17] });
  });

  it('tolerates a trailing CRLF and NUL padding', () => {
    const padded = Buffer.concat([Buffer.from(`${KEEPALIVE_3}\r\n`), Buffer.alloc(8)]);
    expect(only<GoipKeepAliveObservation>(analyzeGoipSms(padded, ctx(GATEWAY, SERVER)))).toMatchObject({ count: 3, cgatt: 'Y' });
  });
});

describe('keep-alive reply (goip-protocols.md §1.1.2)', () => {
  const rows = [
    { name: 'reads the official reg: reply', source: 'official EN/CN PDF', packet: 'reg:10;status:0;', token: 'reg', count: 10, status: 0 },
    { name: 'reads goipcron\'s 200', source: 'goipcron.c 1129; consolidated vectors', packet: 'reg:19;status:200;', token: 'reg', count: 19, status: 200 },
    { name: 'reads goipcron\'s 404 for an unknown id', source: 'goipcron.c 1146', packet: 'reg:8;status:404;', token: 'reg', count: 8, status: 404 },
    { name: 'reads a negative status', source: 'NiceLabs notify_test.go TestOnReplyNotify', packet: 'reg:100;status:-1;', token: 'reg', count: 100, status: -1 },
    { name: 'ignores fields after status', source: 'e-u-shapovalov/goip-bridge main.go 887', packet: 'reg:5;status:200;v:1;', token: 'reg', count: 5, status: 200 },
    { name: 'accepts the non-standard req: token', source: 'styryl/node-goip lib/messages/req.js', packet: 'req:7;status:200;\n', token: 'req', count: 7, status: 200 },
  ];

  it.each(rows)('$name ($source)', ({ packet, token, count, status }) => {
    const obs = only<GoipKeepAliveReplyObservation>(analyze(packet, SERVER, GATEWAY));
    expect(obs).toMatchObject({ kind: 'goip-keepalive-reply', token, count, status });
    // The reply comes from the SMS server: it is the device this fact is about.
    expect(obs.device).toEqual(SERVER);
    expect(obs.peer).toEqual(GATEWAY);
  });
});

describe('events (goip-protocols.md §1.1.3)', () => {
  const rows: Array<{ name: string; source: string; packet: string; event: string; recvId: number; channelId: string; password?: string; fields: Array<[string, string]> }> = [
    { name: 'reads a RECEIVE that uses pass:', source: 'official EN PDF example', packet: 'RECEIVE:1270197307;id:goipid1;pass:password1;srcnum:+8613513415667;msg:just a test', event: 'RECEIVE', recvId: 1270197307, channelId: 'goipid1', password: 'password1', fields: [['srcnum', '+8613513415667'], ['msg', 'just a test']] },
    { name: 'reads a RECEIVE with a Chinese body', source: 'NiceLabs notify_test.go', packet: 'RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:测试', event: 'RECEIVE', recvId: 1571812849, channelId: 'goip-1', password: 'goip', fields: [['srcnum', '1380013800'], ['msg', '测试']] },
    { name: 'reads a DELIVER report', source: 'NiceLabs notify_test.go; goipcron 269-270', packet: 'DELIVER:1571812803;id:goip-1;password:goip;sms_no:32;state:0;num:+861380013800', event: 'DELIVER', recvId: 1571812803, channelId: 'goip-1', password: 'goip', fields: [['sms_no', '32'], ['state', '0'], ['num', '+861380013800']] },
    { name: 'reads a STATE with a small recvid', source: 'official spec example', packet: 'STATE:7568;id:goip1;password:password1;gsm_remain_state:IDLE', event: 'STATE', recvId: 7568, channelId: 'goip1', password: 'password1', fields: [['gsm_remain_state', 'IDLE']] },
    { name: 'reads an outgoing RECORD', source: 'official spec example', packet: 'RECORD:7565;id:goip2;password:password2;dir:2;num:10086', event: 'RECORD', recvId: 7565, channelId: 'goip2', password: 'password2', fields: [['dir', '2'], ['num', '10086']] },
    { name: 'reads an incoming RECORD', source: 'NiceLabs notify_test.go', packet: 'RECORD:1571812801;id:goip-1;password:goip;dir:1;num:1380013800', event: 'RECORD', recvId: 1571812801, channelId: 'goip-1', password: 'goip', fields: [['dir', '1'], ['num', '1380013800']] },
    { name: 'reads REMAIN', source: 'goip-protocols.md §1.1.3 table', packet: 'REMAIN:7568;id:goip-1;password:goip;gsm_remain_time:-1', event: 'REMAIN', recvId: 7568, channelId: 'goip-1', password: 'goip', fields: [['gsm_remain_time', '-1']] },
    { name: 'reads EXPIRY', source: 'NiceLabs notify_test.go; goipcron 707', packet: 'EXPIRY:1571812871;id:goip-1;password:goip;exp:0', event: 'EXPIRY', recvId: 1571812871, channelId: 'goip-1', password: 'goip', fields: [['exp', '0']] },
    { name: 'splits the cause HANGUP packs into num', source: 'NiceLabs notify_test.go; CN PDF §13', packet: 'HANGUP:1571812814;id:goip-1;password:goip;num:,cause:Normal call clearing', event: 'HANGUP', recvId: 1571812814, channelId: 'goip-1', password: 'goip', fields: [['num', ''], ['cause', 'Normal call clearing']] },
    { name: 'keeps the trailing comma of a CELLS list', source: 'CN/EN PDF §10.1 example', packet: 'CELLS:34347;id:goip-1;password:goip;lists:689,638,783,785,640,', event: 'CELLS', recvId: 34347, channelId: 'goip-1', password: 'goip', fields: [['lists', '689,638,783,785,640,']] },
    { name: 'reads BCCH', source: 'NiceLabs notify_test.go', packet: 'BCCH:34348;id:goip-1;password:goip;bcch:689,638,783,785,640,', event: 'BCCH', recvId: 34348, channelId: 'goip-1', password: 'goip', fields: [['bcch', '689,638,783,785,640,']] },
    { name: 'reads an AT mirror with its count and write: text', source: 'NiceLabs notify_test.go; CN PDF §11.2', packet: 'AT:20;count:1;id:goip-1;password:goip;receive:write:AT+CREG?', event: 'AT', recvId: 20, channelId: 'goip-1', password: 'goip', fields: [['count', '1'], ['receive', 'write:AT+CREG?']] },
    { name: 'keeps a ; inside mirrored AT text', source: 'synthetic, CN PDF §11.2 format', packet: 'AT:21;count:2;id:goip-1;password:goip;receive:write:ATD10086;', event: 'AT', recvId: 21, channelId: 'goip-1', password: 'goip', fields: [['count', '2'], ['receive', 'write:ATD10086;']] },
    { name: 'reads a GSM answer that has no id', source: 'NiceLabs notify_test.go', packet: 'GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;imei:000000000000000;out_call_interval:0;module_down:0', event: 'GSM', recvId: 1, channelId: '', fields: [['get_gsm_num', '(null)'], ['get_exp_time', '0'], ['get_remain_time', '0'], ['get_gsm_state', 'IDLE'], ['imei', '000000000000000'], ['out_call_interval', '0'], ['module_down', '0']] },
    { name: 'reads a USSN push whose text holds ; and :', source: 'synthetic, goipcron 609-610 format', packet: 'USSN:1571812900;id:goip-1;password:goip;msg:Balance: 5.00; valid 30d', event: 'USSN', recvId: 1571812900, channelId: 'goip-1', password: 'goip', fields: [['msg', 'Balance: 5.00; valid 30d']] },
    { name: 'reads CGATT', source: 'synthetic, CN PDF §12 format', packet: 'CGATT:34350;id:goip-1;password:goip;cgatt:1', event: 'CGATT', recvId: 34350, channelId: 'goip-1', password: 'goip', fields: [['cgatt', '1']] },
    { name: 'reads CELLINFO with a value holding :', source: 'synthetic, CN PDF §10.5 format', packet: 'CELLINFO:34351;id:goip-1;password:goip;info:LAC:7E5,CELL ID:5E5B', event: 'CELLINFO', recvId: 34351, channelId: 'goip-1', password: 'goip', fields: [['info', 'LAC:7E5,CELL ID:5E5B']] },
    { name: 'reads a negative recvid', source: 'synthetic, NiceLabs docs/protocol-stack/README.md known issue (pitfall 7)', packet: 'RECORD:-1234;id:goip-1;password:goip;dir:1;num:10086', event: 'RECORD', recvId: -1234, channelId: 'goip-1', password: 'goip', fields: [['dir', '1'], ['num', '10086']] },
  ];

  it.each(rows)('$name', ({ packet, event, recvId, channelId, password, fields }) => {
    const result = analyze(packet);
    expect(result?.malformed).toBeUndefined();
    const obs = result!.observations[0] as GoipEventObservation;
    expect(obs).toMatchObject({ kind: 'goip-event', event, recvId, channelId, fields, device: GATEWAY, peer: SERVER });
    if (password === undefined) expect(obs).not.toHaveProperty('password');
    else expect(obs.password).toBe(password);
  });

  it('emits both an event and an SMS for RECEIVE', () => {
    const result = analyze('RECEIVE:1734804704;id:goip01;password:xxxxxx;srcnum:+358401234567;msg:Hello');
    expect(result?.observations.map((o) => o.kind)).toEqual(['goip-event', 'goip-sms']);
    const sms = result!.observations[1] as GoipSmsObservation;
    expect(sms).toMatchObject({ recvId: 1734804704, channelId: 'goip01', sender: '+358401234567', body: 'Hello', device: GATEWAY });
    expect(sms).not.toHaveProperty('smsc');
  });

  it("keeps ';' and ':' inside an SMS body, even the text ;msg:", () => {
    // goip-protocols.md §1.1.5 pitfall 2 (goip-bridge TestFieldsMsgBoundary; goipcron reads %3000c).
    const result = analyze('RECEIVE:1734804705;id:goip01;password:xxxxxx;srcnum:10690000;msg:Code: 4821; do not share;msg:x');
    expect((result!.observations[1] as GoipSmsObservation).body).toBe('Code: 4821; do not share;msg:x');
  });

  it('reads the optional smscnum before msg', () => {
    // goip-protocols.md §1.1.3, goipcron.c 326-346 (synthetic sample).
    const result = analyze('RECEIVE:1571812850;id:goip-1;password:goip;srcnum:1380013800;smscnum:+8613800100500;msg:hi');
    expect(result!.observations[1]).toMatchObject({ kind: 'goip-sms', sender: '1380013800', smsc: '+8613800100500', body: 'hi' });
  });

  it('keeps a UTF-8 body byte for byte and never changes its case', () => {
    const body = '您的验证码是 482193，请勿泄露。Your CODE';
    const result = analyze(`RECEIVE:1571812851;id:goip-1;password:goip;srcnum:106575000;msg:${body}\n`);
    const sms = result!.observations[1] as GoipSmsObservation;
    expect(Buffer.from(sms.body, 'utf8').equals(Buffer.from(body, 'utf8'))).toBe(true);
  });
});

describe('commands and acks (goip-protocols.md §1.1.4)', () => {
  const rows: Array<{ name: string; source: string; packet: string; from: 'server' | 'gateway' | 'either'; command: string; sendId: string; args: string[] }> = [
    { name: 'reads a server ack of RECEIVE', source: 'official spec; consolidated vectors', packet: 'RECEIVE 1270197307 OK', from: 'server', command: 'RECEIVE', sendId: '1270197307', args: ['OK'] },
    { name: 'reads a STATE ack', source: 'consolidated vectors', packet: 'STATE 7568 OK', from: 'server', command: 'STATE', sendId: '7568', args: ['OK'] },
    { name: 'reads goipcron\'s STATE DISABLE', source: 'goipcron.c 253', packet: 'STATE 7568 DISABLE', from: 'server', command: 'STATE', sendId: '7568', args: ['DISABLE'] },
    { name: 'reads a RECORD ack', source: 'consolidated vectors', packet: 'RECORD 7565 OK', from: 'server', command: 'RECORD', sendId: '7565', args: ['OK'] },
    { name: 'keeps an ack error text whole', source: 'NiceLabs notify_test.go TestOnReplyNotify', packet: 'USSN 100 ERROR EOF', from: 'server', command: 'USSN', sendId: '100', args: ['ERROR', 'EOF'] },
    { name: 'reads MSG with its length and text', source: 'official spec §3 example', packet: 'MSG 11 5 hello\n', from: 'server', command: 'MSG', sendId: '11', args: ['5', 'hello'] },
    { name: 'keeps the spaces of a MSG text', source: 'synthetic, spec §3 format', packet: 'MSG 12 11 hello world\n', from: 'server', command: 'MSG', sendId: '12', args: ['11', 'hello world'] },
    { name: 'reads the gateway asking for the password', source: 'official spec §3 dialogue', packet: 'PASSWORD 11\n', from: 'gateway', command: 'PASSWORD', sendId: '11', args: [] },
    { name: 'reads the server giving the password', source: 'official spec §3 dialogue', packet: 'PASSWORD 11 password1\n', from: 'server', command: 'PASSWORD', sendId: '11', args: ['password1'] },
    { name: 'reads the gateway asking for a number', source: 'official spec §3 dialogue', packet: 'SEND 11\n', from: 'gateway', command: 'SEND', sendId: '11', args: [] },
    { name: 'reads the server giving a number', source: 'official spec §3 dialogue', packet: 'SEND 11 1 +8613800138000\n', from: 'server', command: 'SEND', sendId: '11', args: ['1', '+8613800138000'] },
    { name: 'reads the old OK answer', source: 'official spec §3 dialogue', packet: 'OK 11 1\n', from: 'gateway', command: 'OK', sendId: '11', args: ['1'] },
    { name: 'reads the new OK answer with sms_no', source: 'goipcron.c ~1367 comment', packet: 'OK 11 1 32\n', from: 'gateway', command: 'OK', sendId: '11', args: ['1', '32'] },
    { name: 'reads WAIT', source: 'official spec §3 dialogue', packet: 'WAIT 11 2\n', from: 'gateway', command: 'WAIT', sendId: '11', args: ['2'] },
    { name: 'reads ERROR', source: 'official spec §3 dialogue', packet: 'ERROR 11 PASSWORD\n', from: 'gateway', command: 'ERROR', sendId: '11', args: ['PASSWORD'] },
    { name: 'reports DONE as either side\'s (both send the same shape)', source: 'official spec §3 dialogue', packet: 'DONE 11\n', from: 'either', command: 'DONE', sendId: '11', args: [] },
    { name: 'reads a getter request with a password', source: 'official spec example', packet: 'get_gsm_num 879901 password1', from: 'server', command: 'get_gsm_num', sendId: '879901', args: ['password1'] },
    { name: 'reads a getter answer with a number', source: 'official spec example', packet: 'get_gsm_num 879901 13800138000', from: 'gateway', command: 'get_gsm_num', sendId: '879901', args: ['13800138000'] },
    { name: 'reads a setter request', source: 'consolidated vectors', packet: 'set_gsm_num 879902 13800138001 password1', from: 'server', command: 'set_gsm_num', sendId: '879902', args: ['13800138001', 'password1'] },
    { name: 'reads a setter answer', source: 'synthetic, spec §5-§11 "<cmd> <sendid> ok"', packet: 'set_gsm_num 879902 ok', from: 'gateway', command: 'set_gsm_num', sendId: '879902', args: ['ok'] },
    { name: 'reads a USSD request by its code', source: 'official spec example', packet: 'USSD 111 password1 557*0112220248*10#', from: 'server', command: 'USSD', sendId: '111', args: ['password1', '557*0112220248*10#'] },
    { name: 'keeps a USSD answer text whole', source: 'official spec example (text cut at "EGP")', packet: 'USSD 111 You are going to transfer 10.00 EGP', from: 'gateway', command: 'USSD', sendId: '111', args: ['You are going to transfer 10.00 EGP'] },
    { name: 'reads USSDEXIT from the server', source: 'spec §5-§11; auto_ussd.c 1518', packet: 'USSDEXIT 111 password1', from: 'server', command: 'USSDEXIT', sendId: '111', args: ['password1'] },
    { name: 'reads USSDEXIT from the gateway', source: 'spec §5-§11', packet: 'USSDEXIT 111', from: 'gateway', command: 'USSDEXIT', sendId: '111', args: [] },
    { name: 'reads an execute answer ok', source: 'NiceLabs command_tools.go set()', packet: 'svr_reboot_dev 42 ok', from: 'gateway', command: 'svr_reboot_dev', sendId: '42', args: ['ok'] },
    { name: 'reads the server GSM request', source: 'NiceLabs command_call.go', packet: 'GSM 1 goip', from: 'server', command: 'GSM', sendId: '1', args: ['goip'] },
    { name: 'reads a call-forward request', source: 'spec §5-§11 CF format', packet: 'CF 5 password1 0 1 13800138000 20', from: 'server', command: 'CF', sendId: '5', args: ['password1', '0', '1', '13800138000', '20'] },
  ];

  it.each(rows)('$name', ({ packet, from, command, sendId, args }) => {
    const obs = only<GoipCommandObservation>(analyze(packet, SERVER, GATEWAY));
    expect(obs).toMatchObject({ kind: 'goip-command', from, command, sendId, args });
    // Whoever sent it is the device (the server for server commands, the gateway for answers).
    expect(obs.device).toEqual(SERVER);
  });
});

describe('recognising the protocol cheaply', () => {
  it.each([
    'req:1;id:x;', 'reg:1;status:0;', 'RECEIVE:1;', 'CELLINFO:1;', 'AT:20;', 'GSM:1;', 'RECEIVE 1 OK', 'MSG 1 1 a',
    'OK 1 1', 'get_gsm_num 1 p', 'svr_reboot_dev 1 p',
  ])('recognises %j', (text) => {
    expect(looksLikeGoipSms(Buffer.from(text))).toBe(true);
  });

  it.each([
    '', 'OK', 'req', 'requ:1', 'INVITE sip:1@x SIP/2.0', 'receive:1;id:x;password:y', 'AT+CSQ', 'AT 1 OK', 'SAMPLE:1;sample', 'HTTP/1.1 200 OK',
  ])('does not recognise %j', (text) => {
    expect(looksLikeGoipSms(Buffer.from(text))).toBe(false);
    expect(analyze(text)).toBeNull();
  });

  it.each(['OK then', 'SEND me the file', 'STATE of the art', 'DONE deal'])('returns null for prose starting with a command word: %j', (text) => {
    expect(looksLikeGoipSms(Buffer.from(text))).toBe(true);
    expect(analyze(text)).toBeNull();
  });
});

describe('malformed datagrams', () => {
  it.each([
    { packet: 'req:abc;id:x;pass:y;', reason: 'keep-alive count is not a number' },
    { packet: 'req:5;pass:y;num:;', reason: 'keep-alive without id' },
    { packet: 'req:5;id:x;garbage;', reason: 'keep-alive field without key:value' },
    { packet: 'reg:5;status:ok;', reason: 'keep-alive reply status is not a number' },
    { packet: 'reg:5;id:x;', reason: 'reg: without status' },
    { packet: 'RECEIVE:abc;id:goip;password:p;srcnum:1;msg:x', reason: 'event recvid is not a number' },
    { packet: 'RECEIVE:1;id:goip;password:p;srcnum:1', reason: 'RECEIVE without msg' },
    { packet: 'RECEIVE:1;id:goip;password:p;msg:x', reason: 'RECEIVE without srcnum' },
    { packet: 'STATE:1;gsm_remain_state:IDLE', reason: 'STATE without id' },
    { packet: 'DELIVER:1;sample', reason: 'event field without key:value' },
    { packet: 'SEND 11 1', reason: 'SEND with an unexpected argument count' },
    { packet: 'MSG 11', reason: 'MSG without length' },
  ])('reports $packet as "$reason"', ({ packet, reason }) => {
    const result = analyze(packet);
    expect(malformedReason(result)).toBe(reason);
    expect(result?.malformed?.[0]).toMatchObject({ protocol: 'goip-sms', ref: { file: 2, frames: [17] } });
  });

  it('never throws on any truncation of the samples', () => {
    const samples = [KEEPALIVE_27, 'RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:测试', 'HANGUP:1571812814;id:goip-1;password:goip;num:,cause:Normal call clearing', 'USSD 111 password1 557*0112220248*10#', 'reg:10;status:0;'];
    let read = 0;
    for (const sample of samples) {
      const bytes = Buffer.from(sample, 'utf8');
      for (let len = 0; len <= bytes.length; len++) {
        const result = analyze(bytes.subarray(0, len));
        if (result !== null) read++;
      }
    }
    expect(read).toBeGreaterThan(100);
  });

  it('never throws on random bytes, alone or after a GoIP prefix', () => {
    // Deterministic PRNG (mulberry32) so a failure can be replayed.
    let seed = 0x60ff1234;
    const next = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const prefixes = ['', 'req:', 'reg:', 'RECEIVE:', 'AT:', 'GSM:', 'SEND ', 'USSD ', 'get_imei '];
    for (let i = 0; i < 3000; i++) {
      const random = Buffer.alloc(Math.floor(next() * 80));
      for (let j = 0; j < random.length; j++) random[j] = Math.floor(next() * 256);
      const payload = Buffer.concat([Buffer.from(prefixes[i % prefixes.length]!), random]);
      const result = analyze(payload);
      if (!looksLikeGoipSms(payload)) expect(result).toBeNull();
    }
  });
});
