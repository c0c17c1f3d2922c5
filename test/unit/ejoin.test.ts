/**
 * Ejoin / SkyLine HTTP API stream analyzer.
 *
 * The dev-status JSON is the verbatim example of goip-protocols.md §2.2 (closed after its first slot, where the
 * reference elides the rest), plus one SIM-less slot from the full example in the code-index file §2.2 cites
 * (id 14101787166, a client that GETs /goip_get_status.html?username=root&password=root&all_sims=1 and POSTs
 * {"version":"1.1","type":"command","op":"switch",...} to /goip_send_cmd.html). The IMEI-rewrite body is the example
 * of ZMAWline/incomingsms skyline_api_reference.md. recv-sms and status-report bodies are synthetic, built from the
 * formats in §2.2 ([dr,port,ts,from,to,base64] rows; dr = 1 rows carry "code scts", per the two summaries cited there).
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnectionInfo } from '../../src/capture/stream.js';
import type { AnalyzerResult, EjoinApiObservation } from '../../src/protocols/types.js';
import { decodeBase64Utf8, decodeChunked, ejoinStreamAnalyzer, normaliseMac, readEjoinJson } from '../../src/protocols/ejoin.js';
import { seededRandom } from '../helpers/random.js';

const conn: TcpConnectionInfo = {
  client: { ip: '192.168.1.111', port: 33000 },
  server: { ip: '192.168.1.2', port: 80 },
  fileIndex: 2,
  firstFrame: 1,
  ts: 1_718_000_000_000,
  handshakeSeen: true,
};

const DEV_STATUS_SLOT_1 =
  '{"port":"1.01", "sim":"", "seq":18566, "st":6, "imei":"862032045299211", "iccid":"42402117840804563386", "imsi":"001012345678901", "sn":"", "opr":"0 ", "bal":"0.00", "sig":0, "tot_dur":"0/-1", "mon_dur":"0/-1", "day_dur":"0/-1"}';
const DEV_STATUS =
  '{"type":"dev-status", "seq":2124, "expires":-1, "mac":"00-30-f1-00-b7-d5", "ip":"192.168.1.111", "ver":"608-520-840-841-100-0F0", "max-ports":8, "max-slot":32, "status":[' +
  DEV_STATUS_SLOT_1 + ', {"port":"5.01", "sim":"", "seq":2124, "st":0, "imei":"862032045299252"}]}';

const SLOTS = [
  { port: '1.01', status: 6, imei: '862032045299211', iccid: '42402117840804563386', imsi: '001012345678901', operator: '0', signal: 0 },
  { port: '5.01', status: 0, imei: '862032045299252' },
];

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const RECV_SMS = JSON.stringify({
  type: 'recv-sms',
  sms_num: 3,
  sms: [
    [0, '2.01', 1718000000, '+8613800138000', '+8613900139000', b64('您的验证码是 4711')],
    [1, '2.01', 1718000001, '10086', '+8613900139000', '0 20240610120000'],
    [0, 3, '1718000002', 'BANK', '', b64('Code 9921')],
  ],
});

function post(path: string, body: string, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
function reply(body: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function run(segments: Array<[boolean, string | Buffer]>): { observations: EjoinApiObservation[]; malformed: string[] } {
  const a = ejoinStreamAnalyzer.create(conn);
  const results: AnalyzerResult[] = segments.map(([c, d], i) => a.push(c, typeof d === 'string' ? Buffer.from(d) : d, i + 1, conn.ts + i));
  results.push(a.end());
  return {
    observations: results.flatMap((r) => r.observations) as EjoinApiObservation[],
    malformed: results.flatMap((r) => r.malformed ?? []).map((m) => m.reason),
  };
}

const facts = ({ kind: _k, device: _d, peer: _p, ts: _t, ref: _r, ...rest }: EjoinApiObservation) => rest;

describe('ejoin detect()', () => {
  const cases: Array<[string, string, boolean, boolean]> = [
    ['GET /goip_get_status.html (code-index client, §2.2)', 'GET /goip_get_status.html?username=root&password=root&all_sims=1 HTTP/1.1\r\nHost: 192.168.1.111\r\n\r\n', true, true],
    ['POST /goip_post_sms.html in absolute form', 'POST http://10.0.0.9/goip_post_sms.html?username=root&password=x HTTP/1.1\r\n', true, true],
    ['a dev-status push with its body', post('/report', DEV_STATUS), true, true],
    ['a JSON POST head alone (body in the next segment)', 'POST /report HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n', true, true],
    ['a JSON POST whose body is not a push', post('/api/login', '{"user":"a"}'), true, false],
    ['a form POST head alone', 'POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\n', true, false],
    ['GET of another page', 'GET /default/en_US/status.html HTTP/1.0\r\n\r\n', true, false],
    ['a path that only contains goip_', 'GET /x/goip_get_status.html HTTP/1.1\r\n\r\n', true, false],
    ['a /goip_ request seen from the server side', 'GET /goip_get_status.html HTTP/1.1\r\n\r\n', false, false],
    ['an HTTP response', reply(DEV_STATUS), false, false],
  ];
  it.each(cases)('%s → %s', (_name, data, fromClient, expected) => {
    expect(ejoinStreamAnalyzer.detect(Buffer.from(data), fromClient, conn)).toBe(expected);
  });

  it('does not match random binary (seeded)', () => {
    const rand = seededRandom(3);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.alloc(8 + Math.floor(rand() * 200));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
      expect(ejoinStreamAnalyzer.detect(b, true, conn)).toBe(false);
    }
  });
});

describe('ejoin stream analyzer: pushes (device = the HTTP client)', () => {
  it('reads the §2.2 dev-status push', () => {
    const { observations, malformed } = run([[true, post('/ejoin/status', DEV_STATUS)], [false, reply('{"code":0}')]]);
    expect(malformed).toEqual([]);
    expect(observations).toHaveLength(1);
    const o = observations[0]!;
    expect(o.device).toBe(conn.client);
    expect(o.peer).toBe(conn.server);
    expect(facts(o)).toEqual({
      via: 'push', path: '/ejoin/status', type: 'dev-status', mac: '00:30:f1:00:b7:d5', deviceIp: '192.168.1.111',
      firmwareVersion: '608-520-840-841-100-0F0', maxPorts: 8, maxSlot: 32, slots: SLOTS, sms: [],
    });
  });

  it('reads recv-sms rows, base64 text as UTF-8, and counts delivery reports apart', () => {
    const { observations, malformed } = run([[true, post('/sms', RECV_SMS)]]);
    expect(malformed).toEqual([]);
    expect(observations[0]).toMatchObject({
      via: 'push', type: 'recv-sms', deliveryReports: 1,
      sms: [
        { port: '2.01', from: '+8613800138000', to: '+8613900139000', text: '您的验证码是 4711' },
        { port: '3', from: 'BANK', text: 'Code 9921' },
      ],
    });
    expect(observations[0]!.sms[1]).not.toHaveProperty('to');
  });

  it('reads a status-report push (synthetic, §2.2)', () => {
    const body = '{"type":"status-report","rpt_num":1,"rpts":[{"tid":7,"sending":0,"sent":1,"failed":0,"unsent":0}]}';
    const { observations } = run([[true, post('/sr', body)]]);
    expect(observations.map(facts)).toEqual([{ via: 'push', path: '/sr', type: 'status-report', slots: [], sms: [] }]);
  });

  it('reads a chunked push', () => {
    const body = Buffer.from(RECV_SMS);
    const chunked = `${(60).toString(16)}\r\n${body.subarray(0, 60)}\r\n${(body.length - 60).toString(16)};ext=1\r\n${body.subarray(60)}\r\n0\r\n\r\n`;
    const head = 'POST /sms HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const { observations, malformed } = run([[true, head + chunked]]);
    expect(malformed).toEqual([]);
    expect(observations[0]!.sms).toHaveLength(2);
  });

  it('gives the same observation when the push arrives in 7-byte segments', () => {
    const stream = Buffer.from(post('/ejoin/status', DEV_STATUS));
    const segments: Array<[boolean, Buffer]> = [];
    for (let i = 0; i < stream.length; i += 7) segments.push([true, stream.subarray(i, i + 7)]);
    const { observations, malformed } = run(segments);
    expect(malformed).toEqual([]);
    expect(observations.map(facts)).toEqual(run([[true, stream]]).observations.map(facts));
    expect(observations[0]!.ref.frames).toEqual(segments.map((_s, i) => i + 1));
  });

  it('reads two pipelined pushes in one segment, each with its frames', () => {
    const { observations } = run([[true, 'POST /a HTTP/1.1\r\nContent-Length: 7\r\n\r\n{"a":'], [true, '1}' + post('/sr', '{"type":"status-report"}') + post('/sms', RECV_SMS)]]);
    expect(observations.map((o) => [o.type, o.ref.frames])).toEqual([['status-report', [2]], ['recv-sms', [2]]]);
  });
});

describe('ejoin stream analyzer: /goip_*.html calls (device = the HTTP server)', () => {
  it('records path and user, never the password, and reads the dev-status reply', () => {
    const { observations, malformed } = run([
      [true, 'GET /goip_get_status.html?username=root&password=S3cret&all_sims=1 HTTP/1.1\r\nHost: 192.168.1.2\r\n\r\n'],
      [false, reply(DEV_STATUS)],
    ]);
    expect(malformed).toEqual([]);
    expect(observations.map((o) => o.device)).toEqual([conn.server, conn.server]);
    expect(facts(observations[0]!)).toEqual({ via: 'request', path: '/goip_get_status.html', user: 'root', slots: [], sms: [] });
    expect(observations[1]).toMatchObject({ via: 'request', path: '/goip_get_status.html', type: 'dev-status', maxPorts: 8, slots: SLOTS });
    expect(JSON.stringify(observations)).not.toContain('S3cret');
  });

  it('reads the op of a JSON command body (code-index client, §2.2)', () => {
    const body = '{"version":"1.1","type":"command","op":"switch","ports":"1.02"}';
    const { observations } = run([[true, post('/goip_send_cmd.html?username=root&password=root', body)], [false, reply('{"code":0,"reason":"OK"}')]]);
    expect(observations.map(facts)).toEqual([{ via: 'request', path: '/goip_send_cmd.html', user: 'root', type: 'command', op: 'switch', slots: [], sms: [] }]);
  });

  it('reads IMEI rewrites of op=set (ZMAWline skyline_api_reference.md example)', () => {
    const body = 'sim_imei(21)=865847053403202&sim_imei(51)=865847053403213';
    const req = `POST /goip_send_cmd.html?username=root&password=xxx&op=set HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const { observations } = run([[true, req]]);
    expect(observations[0]).toMatchObject({ op: 'set', imeiSet: [{ index: 21, imei: '865847053403202' }, { index: 51, imei: '865847053403213' }] });
  });

  it('pairs replies with pipelined requests and ignores replies that are not status', () => {
    const { observations } = run([
      [true, 'GET /goip_get_sms.html?username=u&password=p HTTP/1.1\r\n\r\nGET /goip_get_status.html?username=u&password=p HTTP/1.1\r\n\r\n'],
      [false, reply('{"code":0,"reason":"OK","data":[]}') + 'HTTP/1.1 100 Continue\r\n\r\n' + reply(DEV_STATUS)],
    ]);
    expect(observations.map((o) => [o.path, o.type ?? null])).toEqual([
      ['/goip_get_sms.html', null], ['/goip_get_status.html', null], ['/goip_get_status.html', 'dev-status'],
    ]);
  });

  it('reads a reply framed by the connection close', () => {
    const { observations } = run([[true, 'GET /goip_get_status.html HTTP/1.0\r\n\r\n'], [false, `HTTP/1.0 200 OK\n\n${DEV_STATUS}`]]);
    expect(observations[1]).toMatchObject({ type: 'dev-status', slots: SLOTS });
  });
});

describe('ejoin malformed input', () => {
  const cases: Array<[string, Array<[boolean, string]>, string]> = [
    ['a push cut inside its JSON', [[true, post('/r', '{"type":"dev-status", "mac":')]], 'push: body is not JSON (SyntaxError)'],
    ['a slot without port', [[true, post('/r', '{"type":"dev-status","status":[{"imei":"1"}]}')]], 'push: status[] is not a slot object with a port'],
    ['an SMS row whose text is not base64', [[true, post('/r', '{"type":"recv-sms","sms":[[0,"1","1","a","b","%%%"]]}')]], 'push: sms[] content is not base64 UTF-8'],
    ['an SMS row of base64 that is not UTF-8', [[true, post('/r', `{"type":"recv-sms","sms":[[0,"1","1","a","b","${Buffer.from([0xff, 0xfe]).toString('base64')}"]]}`)]], 'push: sms[] content is not base64 UTF-8'],
    ['a short SMS row', [[true, post('/r', '{"type":"recv-sms","sms":[[0,"1"]]}')]], 'push: sms[] is not a 6-element row'],
    ['a recv-sms without rows', [[true, post('/r', '{"type":"recv-sms"}')]], 'push: recv-sms without an sms array'],
    ['a command body that is not JSON', [[true, post('/goip_send_cmd.html', '{op:switch}')]], '/goip_send_cmd.html: body is not JSON (SyntaxError)'],
    ['a body over 256 KiB', [[true, 'POST /goip_post_sms.html HTTP/1.1\r\nContent-Length: 300000\r\n\r\n{']], 'body over 262144 bytes: skipped'],
    ['a bad Content-Length', [[true, 'POST /goip_x.html HTTP/1.1\r\nContent-Length: -1\r\n\r\n']], 'bad Content-Length: rest of the direction ignored'],
    ['a head that never ends', [[true, `GET /goip_x.html?${'a'.repeat(20_000)}`]], 'no HTTP head end within the bound: rest of the direction ignored'],
    ['a request cut by the end of the stream', [[true, 'POST /goip_x.html HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"a"']], 'unfinished HTTP message at end of stream'],
    ['a bad chunk size', [[true, 'POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']], 'bad chunk size line: rest of the direction ignored'],
  ];
  it.each(cases)('reports %s with a reason', (_name, segments, reason) => {
    expect(run(segments).malformed).toContain(reason);
  });

  it('keeps the valid rows of a push with a bad one, and nothing of a push that is not JSON', () => {
    const mixed = run([[true, post('/r', `{"type":"recv-sms","sms":[[0,"1","1","a","b","%%%"],[0,"2","1","c","d","${b64('ok')}"]]}`)]]);
    expect(mixed.observations[0]!.sms).toEqual([{ port: '2', from: 'c', to: 'd', text: 'ok' }]);
    expect(run([[true, post('/r', '{"type":"dev-status",')]]).observations).toEqual([]);
  });

  it('still records the path of a /goip_ request whose body is too large, then reads the next one', () => {
    const big = 'x'.repeat(300_000);
    const { observations } = run([[true, `POST /goip_post_sms.html HTTP/1.1\r\nContent-Length: ${big.length}\r\n\r\n${big}GET /goip_get_tasks.html HTTP/1.1\r\n\r\n`]]);
    expect(observations.map((o) => o.path)).toEqual(['/goip_post_sms.html', '/goip_get_tasks.html']);
  });

  it('never throws on random input', () => {
    const rand = seededRandom(11);
    for (let i = 0; i < 200; i++) {
      const a = ejoinStreamAnalyzer.create(conn);
      expect(() => {
        a.push(true, Buffer.from('POST /goip_x.html HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'), 1, 0);
        for (let j = 0; j < 6; j++) {
          const b = Buffer.alloc(1 + Math.floor(rand() * 300));
          for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
          a.push(rand() < 0.5, b, j + 2, 0);
        }
        a.end();
      }).not.toThrow();
    }
  });
});

describe('ejoin parsers', () => {
  it('decodeBase64Utf8 is strict', () => {
    expect(decodeBase64Utf8(b64('héllo'))).toBe('héllo');
    expect(decodeBase64Utf8('aGk')).toBeNull(); // not a multiple of 4
    expect(decodeBase64Utf8('aG!k')).toBeNull();
  });

  it('decodeChunked waits for the last chunk and its empty line', () => {
    expect(decodeChunked(Buffer.from('3\r\nabc\r\n0\r\n'))).toEqual({ state: 'incomplete' });
    expect(decodeChunked(Buffer.from('3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nrest'))).toEqual({ state: 'done', body: Buffer.from('abc'), consumed: 21 });
  });

  it('normaliseMac keeps what is not a MAC', () => {
    expect(normaliseMac('00-30-F1-00-B7-D5')).toBe('00:30:f1:00:b7:d5');
    expect(normaliseMac('n/a')).toBe('n/a');
  });

  it('readEjoinJson refuses a non-object document', () => {
    expect(readEjoinJson([1, 2])).toBeNull();
    expect(readEjoinJson('dev-status')).toBeNull();
  });
});
