import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestHost, TestHost } from '../support/host';

let host: TestHost;
let orderId: string;
const line = { productId: 'p-1', quantity: 1, unitPrice: '10.00', currency: 'BRL' };

beforeAll(async () => {
  host = await startTestHost();
  orderId = `bad-${Date.now()}`;
  await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
  await call(host, 'POST', `/api/orders/${orderId}/items`, line);
});
afterAll(async () => {
  await host?.stop();
});

interface Case {
  name: string;
  method: string;
  path: () => string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  field?: string;
}

const items = () => `/api/orders/${orderId}/items`;
const cases: Case[] = [
  { name: 'bad JSON', method: 'POST', path: items, body: '{"productId": ', status: 400, field: 'body' },
  {
    name: 'JSON that is not an object',
    method: 'POST',
    path: items,
    body: '[1,2]',
    status: 400,
    field: 'body',
  },
  { name: 'empty body', method: 'POST', path: items, body: '', status: 400, field: 'body' },
  {
    name: 'quantity as a string',
    method: 'POST',
    path: items,
    body: { ...line, quantity: '1' },
    status: 400,
    field: 'body.quantity',
  },
  {
    name: 'negative quantity',
    method: 'POST',
    path: items,
    body: { ...line, quantity: -1 },
    status: 400,
    field: 'body.quantity',
  },
  {
    name: 'fractional quantity',
    method: 'POST',
    path: items,
    body: { ...line, quantity: 1.5 },
    status: 400,
    field: 'body.quantity',
  },
  {
    name: 'price as a number',
    method: 'POST',
    path: items,
    body: { ...line, unitPrice: 10 },
    status: 400,
    field: 'body.unitPrice',
  },
  {
    name: 'negative price',
    method: 'POST',
    path: items,
    body: { ...line, unitPrice: '-1.00' },
    status: 400,
    field: 'body.unitPrice',
  },
  {
    name: 'price finer than the currency',
    method: 'POST',
    path: items,
    body: { ...line, unitPrice: '1.001' },
    status: 400,
    field: 'body.unitPrice',
  },
  {
    name: 'unknown currency',
    method: 'POST',
    path: items,
    body: { ...line, currency: 'XYZ' },
    status: 400,
    field: 'body.currency',
  },
  {
    name: 'second currency',
    method: 'POST',
    path: items,
    body: { ...line, productId: 'p-2', currency: 'USD' },
    status: 422,
    field: 'currency',
  },
  {
    name: 'missing productId',
    method: 'POST',
    path: items,
    body: { quantity: 1, unitPrice: '1', currency: 'BRL' },
    status: 400,
    field: 'body.productId',
  },
  {
    name: 'productId with a slash',
    method: 'POST',
    path: items,
    body: { ...line, productId: 'a/b' },
    status: 400,
    field: 'body.productId',
  },
  {
    name: 'productId over 128 characters',
    method: 'POST',
    path: items,
    body: { ...line, productId: 'p'.repeat(129) },
    status: 400,
    field: 'body.productId',
  },
  {
    name: 'unknown field',
    method: 'POST',
    path: items,
    body: { ...line, colour: 'red' },
    status: 400,
    field: 'body.colour',
  },
  {
    name: 'unknown order',
    method: 'POST',
    path: () => '/api/orders/no-such-order/items',
    body: line,
    status: 404,
  },
  { name: 'unknown order read', method: 'GET', path: () => '/api/orders/no-such-order', status: 404 },
  {
    name: 'unknown order events',
    method: 'GET',
    path: () => '/api/orders/no-such-order/events',
    status: 404,
  },
  {
    name: 'invalid order id in path',
    method: 'GET',
    path: () => '/api/orders/bad%20id',
    status: 400,
    field: 'path.orderId',
  },
  {
    name: 'oversized body',
    method: 'POST',
    path: items,
    body: JSON.stringify({ ...line, pad: 'x'.repeat(1024 * 1024) }),
    status: 413,
  },
  {
    name: 'malformed ETag',
    method: 'POST',
    path: items,
    body: line,
    headers: { 'if-match': 'three' },
    status: 400,
    field: 'header.If-Match',
  },
  {
    name: 'stale ETag',
    method: 'POST',
    path: items,
    body: line,
    headers: { 'if-match': '"1"' },
    status: 412,
  },
  {
    name: 'ETag from the future',
    method: 'POST',
    path: items,
    body: line,
    headers: { 'if-match': '"99"' },
    status: 412,
  },
  {
    name: 'bad asOf',
    method: 'GET',
    path: () => `/api/orders/${orderId}?asOf=yesterday`,
    status: 400,
    field: 'query.asOf',
  },
  {
    name: 'asOf without a zone',
    method: 'GET',
    path: () => `/api/orders/${orderId}?asOf=2026-01-01T00:00:00`,
    status: 400,
    field: 'query.asOf',
  },
  { name: 'limit zero', method: 'GET', path: () => '/api/orders?limit=0', status: 400, field: 'query.limit' },
  {
    name: 'limit not a number',
    method: 'GET',
    path: () => '/api/orders?limit=ten',
    status: 400,
    field: 'query.limit',
  },
  {
    name: 'unknown status',
    method: 'GET',
    path: () => '/api/orders?status=lost',
    status: 400,
    field: 'query.status',
  },
  {
    name: 'forged continuation token',
    method: 'GET',
    path: () => '/api/orders?continuationToken=abc',
    status: 400,
    field: 'query.continuationToken',
  },
  {
    name: 'cancel without reason',
    method: 'POST',
    path: () => `/api/orders/${orderId}/cancel`,
    body: {},
    status: 400,
    field: 'body.reason',
  },
  {
    name: 'create without customer',
    method: 'POST',
    path: () => '/api/orders',
    body: {},
    status: 400,
    field: 'body.customerId',
  },
  {
    name: 'form-encoded body',
    method: 'POST',
    path: () => '/api/orders',
    body: 'customerId=c',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
  },
  {
    name: 'bad Idempotency-Key',
    method: 'POST',
    path: items,
    body: line,
    headers: { 'idempotency-key': 'é'.repeat(3) },
    status: 400,
    field: 'header.Idempotency-Key',
  },
  {
    name: 'deeply nested JSON',
    method: 'POST',
    path: items,
    body: '['.repeat(5000) + ']'.repeat(5000),
    status: 400,
    field: 'body',
  },
  {
    name: 'malformed percent-encoding in the path',
    method: 'GET',
    path: () => '/api/orders/%ZZ',
    status: 400,
    field: 'path.orderId',
  },
  {
    name: 'an id of dots only',
    method: 'POST',
    path: () => '/api/orders',
    body: { customerId: 'c', orderId: '..' },
    status: 400,
    field: 'body.orderId',
  },
  {
    name: 'limit in exponent notation',
    method: 'GET',
    path: () => '/api/orders?limit=1e3',
    status: 400,
    field: 'query.limit',
  },
  {
    name: 'limit in hexadecimal',
    method: 'GET',
    path: () => '/api/orders?limit=0x10',
    status: 400,
    field: 'query.limit',
  },
  {
    name: 'a query parameter given twice',
    method: 'GET',
    path: () => '/api/orders?status=foo&status=delivered',
    status: 400,
    field: 'query.status',
  },
  {
    name: 'an unknown query parameter',
    method: 'GET',
    path: () => '/api/orders?status[]=delivered',
    status: 400,
    field: 'query.status[]',
  },
  {
    name: 'a query parameter where none is taken',
    method: 'GET',
    path: () => `/api/orders/${orderId}/events?x=1`,
    status: 400,
    field: 'query.x',
  },
  {
    name: 'a well-formed token this service did not issue',
    method: 'GET',
    path: () =>
      `/api/orders?continuationToken=${Buffer.from(JSON.stringify({ c: "' OR 1=1 --", o: 'x' })).toString('base64url')}`,
    status: 400,
    field: 'query.continuationToken',
  },
  {
    name: 'a JSON-like but other media type',
    method: 'POST',
    path: items,
    body: JSON.stringify(line),
    headers: { 'content-type': 'application/json-seq' },
    status: 415,
  },
  {
    name: 'JSON in another charset',
    method: 'POST',
    path: items,
    body: JSON.stringify(line),
    headers: { 'content-type': 'application/json; charset=utf-16' },
    status: 415,
  },
  {
    name: 'more than a million units of a product',
    method: 'POST',
    path: items,
    body: { ...line, quantity: 1_000_000 },
    status: 422,
    field: 'quantity',
  },
  {
    name: 'an order total of 16 digits',
    method: 'POST',
    path: items,
    body: { ...line, productId: 'p-huge', quantity: 2, unitPrice: '5000000000000000.00' },
    status: 422,
    field: 'unitPrice',
  },
  {
    name: 'notifications of an unknown order',
    method: 'GET',
    path: () => '/api/orders/no-such-order/notifications',
    status: 404,
  },
  {
    name: 'a body that is not UTF-8',
    method: 'POST',
    path: () => `/api/orders/${orderId}/cancel`,
    body: Buffer.from([
      0x7b, 0x22, 0x72, 0x65, 0x61, 0x73, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d,
    ]),
    status: 400,
    field: 'body',
  },
  {
    name: 'a compressed body',
    method: 'POST',
    path: () => '/api/orders',
    body: JSON.stringify({ customerId: 'c' }),
    headers: { 'content-encoding': 'gzip' },
    status: 415,
  },
  {
    name: 'a control character in a reason',
    method: 'POST',
    path: () => `/api/orders/${orderId}/cancel`,
    body: { reason: 'bad\u0000reason' },
    status: 400,
    field: 'body.reason',
  },
  {
    name: 'a lone surrogate in a reason',
    method: 'POST',
    path: () => `/api/orders/${orderId}/cancel`,
    body: '{"reason":"bad \\ud800 reason"}',
    status: 400,
    field: 'body.reason',
  },
  { name: 'unknown route', method: 'GET', path: () => '/api/nothing-here', status: 404 },
  { name: 'wrong method', method: 'PUT', path: () => `/api/orders/${orderId}`, status: 405 },
];

describe('malformed requests get a 4xx problem+json naming the field and append nothing', () => {
  it.each(cases)('$name → $status', async (c) => {
    const before = await call(host, 'GET', `/api/orders/${orderId}/events`);
    const res = await call(host, c.method, c.path(), c.body, c.headers);
    expect(res.status).toBe(c.status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: c.status, type: expect.any(String), title: expect.any(String) });
    // OPTIONS: the CORS preflight, which the first route of each template also takes (issue 9).
    if (c.status === 405) expect(res.headers.get('allow')).toBe('GET, OPTIONS');
    if (c.field) {
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(c.field);
      expect(res.body.detail).toContain(c.field);
    }
    const after = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(after.body.version).toBe(before.body.version);
  });
});

describe('request heads the local host cannot use', () => {
  const raw = (hostHeader: string) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(host.baseUrl);
      const req = request(
        { host: url.hostname, port: url.port, path: '/api/health', headers: { host: hostHeader } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });

  it.each(['[::', 'a b', '%', 'x:99999', 'a@b'])(
    'Host: %s is answered, and the host keeps serving',
    async (h) => {
      expect([200, 400]).toContain(await raw(h));
      expect((await call(host, 'GET', '/api/health')).status).toBe(200);
    },
  );
});
