/**
 * HTTP head analyzer. The GoIP web server is LibHTTPD 1.3: "HTTP/1.0 " responses with bare-LF line
 * ends and `WWW-Authenticate: Basic realm="%s"` (goip-protocols.md §1.5, from the DBL code drop);
 * its realm string and page titles are not known from any source, so the GoIP-style responses here
 * are synthetic, written for this test after §1.5, with placeholder realm/title values. The paths
 * `/default/en_US/status.html` and `send.html` are from §1.5's table.
 */
import { describe, expect, it } from 'vitest';
import type { StreamAnalyzer, TcpConnectionInfo } from '../../src/capture/stream.js';
import { httpStreamAnalyzer, titleOf } from '../../src/protocols/http.js';
import type { AnalyzerResult, HttpObservation } from '../../src/protocols/types.js';

const conn: TcpConnectionInfo = {
  client: { ip: '192.168.1.100', port: 51000 },
  server: { ip: '192.168.1.30', port: 80 },
  fileIndex: 1,
  firstFrame: 10,
  ts: 1_700_000_000_000,
  handshakeSeen: true,
};

const REQUEST = 'GET /default/en_US/status.html HTTP/1.1\r\nHost: 192.168.1.30\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';
// Synthetic after §1.5: LibHTTPD's 401, bare LF, no Server header.
const GOIP_401 = 'HTTP/1.0 401 Unauthorized\nWWW-Authenticate: Basic realm="placeholder realm"\nContent-Type: text/html\n\n<HTML><HEAD><TITLE>401 Unauthorized</TITLE></HEAD><BODY>Authorization required</BODY></HTML>\n';
// Synthetic: an ordinary CRLF server answering the same path.
const PAGE = '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n<title>\n  Gateway   Status\n</title></head><body>ok</body></html>';
const CRLF_200 = `HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Type: text/html\r\nContent-Length: ${PAGE.length}\r\n\r\n${PAGE}`;

function run(session: StreamAnalyzer, steps: Array<[fromClient: boolean, data: string | Buffer, frame: number]>): AnalyzerResult {
  const all: AnalyzerResult = { observations: [], malformed: [] };
  for (const [fromClient, data, frame] of steps) {
    const r = session.push(fromClient, typeof data === 'string' ? Buffer.from(data, 'latin1') : data, frame, conn.ts + frame);
    all.observations.push(...r.observations);
    all.malformed?.push(...(r.malformed ?? []));
  }
  const r = session.end();
  all.observations.push(...r.observations);
  all.malformed?.push(...(r.malformed ?? []));
  return all;
}

const http = (r: AnalyzerResult): HttpObservation[] => r.observations as HttpObservation[];

describe('httpStreamAnalyzer.detect', () => {
  it.each([
    ['a GET from the client', 'GET / HTTP/1.1\r\n', true],
    ['a POST', 'POST /default/en_US/send.html HTTP/1.1\r\n', true],
    ['a response (server spoke first in the capture)', 'HTTP/1.0 200 OK\n', true],
    ['a proxy request (absolute form)', 'GET http://x/ HTTP/1.1\r\n', false],
    ['SIP', 'OPTIONS sip:a@b SIP/2.0\r\n', false],
    ['SMTP', '220 mail ESMTP\r\n', false],
  ])('%s → %s', (_name, first, expected) => {
    expect(httpStreamAnalyzer.detect(Buffer.from(first), true, conn)).toBe(expected);
  });
});

describe('httpStreamAnalyzer', () => {
  it('reads a request and a bare-LF LibHTTPD-style 401: path, realm, title, bareLf', () => {
    const r = run(httpStreamAnalyzer.create(conn), [[true, REQUEST, 11], [false, GOIP_401, 13]]);
    expect(r.malformed).toEqual([]);
    expect(http(r)).toEqual([
      {
        kind: 'http', device: conn.server, peer: conn.client, ts: conn.ts + 11, ref: { file: 1, frames: [11] },
        isResponse: false, bareLf: false, method: 'GET', path: '/default/en_US/status.html',
      },
      {
        kind: 'http', device: conn.server, peer: conn.client, ts: conn.ts + 13, ref: { file: 1, frames: [13] },
        isResponse: true, bareLf: true, status: 401, realm: 'placeholder realm', title: '401 Unauthorized',
      },
    ]);
  });

  it('tells a CRLF response from a bare-LF one and reads Server and a multi-line title', () => {
    const [obs] = http(run(httpStreamAnalyzer.create(conn), [[false, CRLF_200, 20]]));
    expect(obs).toMatchObject({ isResponse: true, bareLf: false, status: 200, server: 'nginx/1.24.0', title: 'Gateway Status' });
    expect(obs?.realm).toBeUndefined();
  });

  it('does not call a block bareLf when any of its lines, even the empty one, ends in CRLF', () => {
    const r = run(httpStreamAnalyzer.create(conn), [[false, 'HTTP/1.0 204 No Content\nServer: mixed\n\r\nHTTP/1.0 204 No Content\r\nServer: mixed\n\n', 25]]);
    expect(http(r).map((o) => o.bareLf)).toEqual([false, false]);
  });

  it('finds a title split over segments and names both frames', () => {
    const cut = CRLF_200.indexOf('Gate');
    const [obs] = http(run(httpStreamAnalyzer.create(conn), [[false, CRLF_200.slice(0, cut), 30], [false, CRLF_200.slice(cut), 31]]));
    expect(obs).toMatchObject({ title: 'Gateway Status', ref: { frames: [30, 31] } });
  });

  it('gives one observation per request and response on a keep-alive connection (Content-Length, HEAD, chunked)', () => {
    const post = 'POST /default/en_US/send.html?u=admin&p=admin HTTP/1.1\r\nContent-Length: 11\r\n\r\nline1=1&x=y';
    const head = 'HEAD /default/en_US/status.html HTTP/1.1\r\n\r\n';
    const get = 'GET /default/en_US/status.xml HTTP/1.1\r\n\r\n';
    // A HEAD response announces a length but carries no body (RFC 9112 §6.3).
    const r1 = 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nSending';
    const r2 = 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n';
    const r3 = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n<title>ab\r\n7;ext=1\r\nc</titl\r\n2\r\ne>\r\n0\r\nX-Trailer: 1\r\n\r\n';
    const r = run(httpStreamAnalyzer.create(conn), [[true, post + head + get, 40], [false, r1 + r2, 41], [false, r3, 42]]);
    expect(r.malformed).toEqual([]);
    expect(http(r).map((o) => [o.isResponse, o.method ?? o.status, o.path ?? o.title ?? null])).toEqual([
      [false, 'POST', '/default/en_US/send.html'], // the query (credentials) is not kept
      [false, 'HEAD', '/default/en_US/status.html'],
      [false, 'GET', '/default/en_US/status.xml'],
      [true, 200, null],
      [true, 200, null],
      [true, 200, 'abc'],
    ]);
  });

  it('reads a body delimited by the close and emits the held response at end()', () => {
    const r = run(httpStreamAnalyzer.create(conn), [[false, 'HTTP/1.0 200 OK\n\n<html><body>no title here', 50]]);
    expect(http(r)).toEqual([expect.objectContaining({ status: 200, bareLf: true, ref: { file: 1, frames: [50] } })]);
    expect(http(r)[0]?.title).toBeUndefined();
  });

  it('does not look for a title in a compressed body', () => {
    const gz = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n'), Buffer.from([0x1f, 0x8b, 8, 0])]);
    const r = run(httpStreamAnalyzer.create(conn), [[false, gz, 60], [false, 'HTTP/1.1 304 Not Modified\r\n\r\n', 61]]);
    expect(http(r).map((o) => o.status)).toEqual([200, 304]);
  });

  it('waits on a start line cut after a few bytes ("GET /", "HTT")', () => {
    const r = run(httpStreamAnalyzer.create(conn), [[true, REQUEST.slice(0, 5), 71], [true, REQUEST.slice(5), 72], [false, 'HTT', 73], [false, 'P/1.0 200 OK\n\n', 74]]);
    expect(r.malformed).toEqual([]);
    expect(http(r).map((o) => [o.path ?? o.status, o.ref.frames])).toEqual([['/default/en_US/status.html', [71, 72]], [200, [73, 74]]]);
  });

  it('skips CRLFs between messages (RFC 9112 §2.2)', () => {
    const r = run(httpStreamAnalyzer.create(conn), [[true, `\r\n${REQUEST}\r\n${REQUEST}`, 70]]);
    expect(http(r)).toHaveLength(2);
  });

  it.each([
    ['a head longer than 8 KiB', `GET / HTTP/1.1\r\n${'X-Pad: 0123456789012345678901234567890123456789\r\n'.repeat(200)}\r\n`, /8 KiB/],
    ['a start line that is not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', /not an HTTP start line/],
    ['a capture that ends inside a head', 'HTTP/1.0 200 OK\nServer: x', /ended inside/],
    ['a bad chunk-size line', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk-size/],
  ])('reports %s as malformed without throwing', (_name, text, reason) => {
    const r = run(httpStreamAnalyzer.create(conn), [[false, text, 80]]);
    expect(r.malformed).toEqual([{ protocol: 'http', reason: expect.stringMatching(reason), ref: { file: 1, frames: [80] } }]);
  });
});

describe('titleOf', () => {
  it.each([
    ['<TITLE>GoIP</TITLE>', 'GoIP'],
    ['<title lang="en">  a\n b </title>', 'a b'],
    ['<title>网关</title>', '网关'],
    ['<title>unterminated', undefined],
    ['no title', undefined],
  ])('%s → %s', (html, expected) => {
    expect(titleOf(Buffer.from(html, 'utf8'))).toBe(expected);
  });
});
