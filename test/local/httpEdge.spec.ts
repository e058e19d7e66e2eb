import { connect, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, TestHost } from '../support/host';

/**
 * Requests Node's HTTP parser refuses, CONNECT, unmet expectations and early answers to large uploads,
 * sent byte for byte over raw sockets to the real local host: every answer must be a complete HTTP/1.1
 * response with problem details, and an answer given before a large body was read must reach the client
 * instead of a connection reset.
 */

let host: TestHost;
let port: number;

beforeAll(async () => {
  host = await startTestHost();
  port = Number(new URL(host.baseUrl).port);
});
afterAll(async () => {
  await host?.stop();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface Exchange {
  responses: RawResponse[];
  /** Socket errors seen by the client (a reset shows here as ECONNRESET or EPIPE). */
  errors: string[];
  /** Bytes received after the last complete response (a truncated answer leaves some). */
  rest: Buffer;
}

/** Parses as many complete HTTP/1.1 responses (Content-Length framed) as `data` holds. */
function parseResponses(data: Buffer): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let rest = data;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(m[1]);
    if (headers['transfer-encoding'] === 'chunked') {
      const body: Buffer[] = [];
      let at = end + 4;
      let complete = false;
      for (;;) {
        const eol = rest.indexOf('\r\n', at);
        if (eol < 0) break;
        const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
        if (size === 0) {
          complete = rest.length >= eol + 4;
          at = eol + 4;
          break;
        }
        if (rest.length < eol + 2 + size + 2) break;
        body.push(rest.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      if (!complete) break;
      responses.push({ status, headers, body: Buffer.concat(body) });
      rest = rest.subarray(at);
      continue;
    }
    // 1xx answers have no body.
    const length = status < 200 ? 0 : Number(headers['content-length']);
    if (!Number.isInteger(length) || rest.length < end + 4 + length) break;
    responses.push({ status, headers, body: rest.subarray(end + 4, end + 4 + length) });
    rest = rest.subarray(end + 4 + length);
  }
  return { responses, rest };
}

/**
 * Opens a connection, lets `send` write to it, and collects what comes back until the server closes
 * the connection (every case here ends with `Connection: close`) or `count` final responses arrived.
 */
function exchange(send: (socket: Socket) => void, count = 1): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const errors: string[] = [];
    const socket = connect(port, '127.0.0.1', () => send(socket));
    const finish = () => {
      const { responses, rest } = parseResponses(Buffer.concat(chunks));
      resolve({ responses: responses.filter((r) => r.status >= 200), errors, rest });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const final = parseResponses(Buffer.concat(chunks)).responses.filter((r) => r.status >= 200);
      if (final.length >= count && final.at(-1)!.headers.connection !== 'close') {
        socket.destroy();
        finish();
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    socket.on('close', finish);
  });
}

const rawRequest = (bytes: Buffer | string) => exchange((s) => s.write(bytes));

function expectProblem(response: RawResponse | undefined, status: number): Record<string, unknown> {
  expect(response, 'a complete HTTP response').toBeDefined();
  expect(response!.status).toBe(status);
  expect(response!.headers['content-type']).toBe('application/problem+json');
  const body = JSON.parse(response!.body.toString('utf8')) as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^\/problems\//) });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

interface Malformed {
  name: string;
  request: Buffer | string;
  status: number;
  /** Refused by the parser (or CONNECT): answered with `Connection: close`. */
  closes?: boolean;
}

const malformed: Malformed[] = [
  {
    name: 'raw UTF-8 in the path',
    request: Buffer.concat([
      Buffer.from('GET /api/orders/'),
      Buffer.from('pedido-ç', 'utf8'),
      Buffer.from(' HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    ]),
    status: 400,
    closes: true,
  },
  {
    name: 'a NUL byte in a header value',
    request: 'GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Note: a\0b\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'a space in a header name',
    request: 'GET /api/health HTTP/1.1\r\nHost: localhost\r\nX Note: a\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'a 20,000-character header (over maxHeaderSize)',
    request: `GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    closes: true,
  },
  {
    name: 'a lowercase method',
    request: 'get /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n',
    status: 501,
    closes: true,
  },
  {
    name: 'an unknown method',
    request: 'BREW /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n',
    status: 501,
    closes: true,
  },
  {
    name: 'bytes that are not HTTP (a TLS hello)',
    request: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a]),
    status: 400,
    closes: true,
  },
  {
    name: 'an invalid HTTP version',
    request: 'GET /api/health HTTP/7.3\r\nHost: localhost\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'both Content-Length and Transfer-Encoding',
    request:
      'POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
    status: 400,
    closes: true,
  },
  {
    name: 'a malformed chunk size',
    request:
      'POST /api/orders HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'a malformed chunk after an early answer (no such route)',
    request:
      'POST /api/no-such-route HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    status: 404,
    closes: true,
  },
  {
    name: 'an HTTP/1.1 request without Host',
    request: 'GET /api/health HTTP/1.1\r\n\r\n',
    status: 400,
  },
  {
    name: 'Expect: 999-nope',
    request:
      'POST /api/orders HTTP/1.1\r\nHost: localhost\r\nExpect: 999-nope\r\nContent-Length: 2\r\n\r\n{}',
    status: 417,
  },
  {
    name: 'CONNECT',
    request: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    status: 405,
    closes: true,
  },
  {
    name: 'a method the parser knows and no route allows (PROPFIND)',
    request: 'PROPFIND /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    status: 405,
  },
];

describe('every answer under /api is problem details, parser errors included', () => {
  it.each(malformed)('$name → $status problem+json', async ({ request, status, closes }) => {
    const { responses, rest } = await rawRequest(request);
    expect(responses).toHaveLength(1);
    expectProblem(responses[0], status);
    expect(rest.length, 'nothing after the answer').toBe(0);
    // The parser cannot find where a refused request ends, so the connection closes after the answer.
    if (closes) expect(responses[0].headers.connection).toBe('close');
  });

  it('CONNECT names the allowed methods', async () => {
    const { responses } = await rawRequest('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n');
    expectProblem(responses[0], 405);
    expect(responses[0].headers.allow).toMatch(/GET/);
  });

  it('a malformed request pipelined after a valid one is answered after it', async () => {
    const { responses } = await exchange(
      (s) => s.write('GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\nget /api/health HTTP/1.1\r\n\r\n'),
      2,
    );
    expect(responses.map((r) => r.status)).toEqual([200, 501]);
    expectProblem(responses[1], 501);
  });

  it('the connection stays usable after an ordinary error answer', async () => {
    const { responses } = await exchange(
      (s) =>
        s.write(
          'GET /api/nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\nGET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n',
        ),
      2,
    );
    expect(responses.map((r) => r.status)).toEqual([404, 200]);
    expectProblem(responses[0], 404);
  });
});

const tenMb = 10 * 1024 * 1024;

/** Sends a head and then `size` bytes of body in 64 KB writes, as a client uploading a file does. */
function upload(head: string, size: number, chunked = false): Promise<Exchange> {
  return exchange((socket) => {
    socket.write(head);
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < size && !socket.destroyed) {
        const n = Math.min(piece.length, size - sent);
        sent += n;
        const data = chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')])
          : piece.subarray(0, n);
        const last = sent >= size;
        const more = socket.write(last && chunked ? Buffer.concat([data, Buffer.from('0\r\n\r\n')]) : data);
        if (!more) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

describe('an answer given before a large upload was read reaches the client', () => {
  const tries = 5;
  const cases: { name: string; head: string; chunked?: boolean; status: number }[] = [
    {
      name: '413 on Content-Length (POST /api/orders, 10 MB, Connection: close)',
      head: `POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${tenMb}\r\nConnection: close\r\n\r\n`,
      status: 413,
    },
    {
      name: '413 past 1 MB of a chunked body (POST /api/orders, 10 MB, Connection: close)',
      head: `POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      chunked: true,
      status: 413,
    },
    {
      name: '404 for a route that does not exist (10 MB, Connection: close)',
      head: `POST /api/no-such-route HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${tenMb}\r\nConnection: close\r\n\r\n`,
      status: 404,
    },
    {
      name: '413 with Expect: 100-continue (10 MB, Connection: close)',
      head: `POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${tenMb}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      status: 413,
    },
  ];
  it.each(cases)(
    `$name: answered, not reset, in ${tries} of ${tries} tries`,
    async ({ head, chunked, status }) => {
      for (let k = 0; k < tries; k++) {
        const { responses, errors } = await upload(head, tenMb, chunked);
        expect(errors, `try ${k + 1}: no reset`).toEqual([]);
        expect(responses).toHaveLength(1);
        expectProblem(responses[0], status);
      }
    },
  );

  it('a mounted endpoint (the local topic) refusing a 10 MB upload without its key is answered too', async () => {
    for (let k = 0; k < tries; k++) {
      const { responses, errors } = await upload(
        `POST /eventgrid/api/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cloudevents-batch+json\r\nContent-Length: ${tenMb}\r\nConnection: close\r\n\r\n`,
        tenMb,
      );
      expect(errors, `try ${k + 1}: no reset`).toEqual([]);
      expect(responses.map((r) => r.status)).toEqual([401]);
    }
  });
});
