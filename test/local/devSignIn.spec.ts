import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, authAs, call, eventually, startTestHost, TestHost } from '../support/host';

/**
 * The local host's development sign-in for its own pages, `POST /.auth/login/dev`, over HTTP: it hands out
 * the token `npm run token` makes, which the API then accepts with the roles asked for; it refuses what is not
 * a valid sign-in, and any request from a page of another origin, and lets no other origin read its answer.
 */

let host: TestHost;
let appService: TestHost | undefined;

beforeAll(async () => {
  host = await startTestHost();
});
afterAll(async () => {
  await host?.stop();
  await appService?.stop();
});

/** A sign-in as a browser page sends it: JSON, and the page's origin (the host's own unless told). */
const signIn = (body: unknown, headers: Record<string, string> = {}) =>
  call(host, 'POST', '/.auth/login/dev', body, { ...anonymous, origin: host.baseUrl, ...headers });

const corsHeaders = (headers: Headers) => [...headers.keys()].filter((h) => h.startsWith('access-control-'));

const expectProblem = (res: Awaited<ReturnType<typeof call>>, status: number, field: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body.status).toBe(status);
  expect(res.body.detail).toContain(field);
  expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  expect(corsHeaders(res.headers)).toEqual([]);
};

describe('the development sign-in of the local host (POST /.auth/login/dev)', () => {
  it('answers a token that GET /api/orders accepts with the role asked for', async () => {
    const otherCustomer = `c-${Date.now()}`;
    const orderId = `signin-${Date.now()}`;
    expect((await call(host, 'POST', '/api/orders', { customerId: otherCustomer, orderId })).status).toBe(
      201,
    );

    const before = Date.now();
    const reader = await signIn({ sub: 'alice', roles: ['orders.read'], name: 'Alice' });
    expect(reader.status).toBe(200);
    expect(reader.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reader.headers.get('cache-control')).toBe('no-store');
    expect(corsHeaders(reader.headers)).toEqual([]);
    expect(Object.keys(reader.body).sort()).toEqual(['expiresAt', 'token']);
    expect(reader.body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const expiresAt = Date.parse(reader.body.expiresAt);
    expect(new Date(expiresAt).toISOString()).toBe(reader.body.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 8 * 3600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 8 * 3600_000);

    // orders.read lists every customer's orders; the same person without the role is a customer, who sees
    // only their own.
    const listed = await eventually(async () => {
      const res = await call(
        host,
        'GET',
        `/api/orders?customerId=${otherCustomer}`,
        undefined,
        authAs(reader.body.token),
      );
      return res.status === 200 && res.body.items.some((o: { orderId: string }) => o.orderId === orderId)
        ? res
        : undefined;
    });
    expect(listed.status).toBe(200);
    const customer = await signIn({ sub: 'alice' });
    expect(customer.status).toBe(200);
    const own = await call(
      host,
      'GET',
      `/api/orders?customerId=${otherCustomer}`,
      undefined,
      authAs(customer.body.token),
    );
    expect(own.status).toBe(200);
    expect(own.body.items.some((o: { orderId: string }) => o.orderId === orderId)).toBe(false);
  });

  it('answers a request without Origin (curl, a script) and one from localhost on the same port', async () => {
    const port = new URL(host.baseUrl).port;
    const noOrigin = await call(host, 'POST', '/.auth/login/dev', { sub: 'bob@example.com' }, anonymous);
    expect(noOrigin.status).toBe(200);
    expect((await signIn({ sub: 'bob' }, { origin: `http://localhost:${port}` })).status).toBe(200);
    const stock = await call(host, 'GET', '/api/stock/p-1', undefined, authAs(noOrigin.body.token));
    expect(stock.status).toBe(403); // no role asked for: a customer
  });

  it('refuses a role that is not an app role, naming it', async () => {
    const res = await signIn({ sub: 'alice', roles: ['orders.read', 'orders.superuser'] });
    expectProblem(res, 400, 'body.roles.1');
  });

  it.each([
    ['missing', {}],
    ['empty', { sub: '' }],
    ['with a space', { sub: 'alice smith' }],
    ['with a slash', { sub: 'orders/1' }],
    ['over 128 characters', { sub: 'a'.repeat(129) }],
    ['not a string', { sub: 42 }],
  ])('refuses a sub %s, naming body.sub', async (_case, body) => {
    expectProblem(await signIn(body), 400, 'body.sub');
  });

  it('refuses other fields and a body that is not a JSON object, naming them', async () => {
    expectProblem(await signIn({ sub: 'alice', exp: 9999999999 }), 400, 'body.exp');
    expectProblem(
      await signIn('{"sub":"alice","__proto__":{"roles":["orders.admin"]}}'),
      400,
      'body.__proto__',
    );
    expectProblem(await signIn('{"sub":'), 400, 'body');
    expectProblem(await signIn([]), 400, 'body');
    expectProblem(await signIn({ sub: 'alice', name: 'A\nB' }), 400, 'body.name');
  });

  it.each([
    ['another site', 'http://evil.example'],
    ['another port of this machine', 'http://127.0.0.1:1'],
    ['an opaque origin (null)', 'null'],
  ])('refuses a request from %s with 403 and no token', async (_case, origin) => {
    const res = await signIn({ sub: 'alice', roles: ['orders.admin'] }, { origin });
    expectProblem(res, 403, 'header.origin');
    expect(res.body.type).toBe('/problems/cross-origin-refused');
    expect(res.body).not.toHaveProperty('token');
  });

  it.each([
    ['text/plain (a form or a simple fetch)', { 'content-type': 'text/plain' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['JSON in another charset', { 'content-type': 'application/json; charset=latin1' }],
  ])('refuses a body sent as %s with 415', async (_case, headers) => {
    expectProblem(await signIn('{"sub":"alice"}', headers), 415, 'header.content-type');
  });

  it('refuses a body over 16 KB with 413', async () => {
    expectProblem(await signIn({ sub: 'alice', name: 'x'.repeat(17 * 1024) }), 413, 'body');
  });

  it('answers another method with 405 and no CORS headers (a preflight fails)', async () => {
    const res = await call(host, 'OPTIONS', '/.auth/login/dev', undefined, {
      ...anonymous,
      origin: 'http://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(corsHeaders(res.headers)).toEqual([]);
  });

  it('writes no token to the log', async () => {
    const res = await signIn({ sub: 'carol', roles: ['orders.approve'] });
    expect(res.status).toBe(200);
    // The host's log reaches this process on its own pipe, after the answer may have: wait for this sign-in's line.
    await eventually(async () =>
      host.logs.join('').includes('development sign-in: carol with roles [orders.approve]')
        ? true
        : undefined,
    );
    const logs = host.logs.join('');
    expect(logs).not.toContain(res.body.token);
    expect(logs).not.toContain(res.body.token.split('.')[2]);
  });

  it('is absent (404) when the host runs with AUTH_MODE=appservice', async () => {
    appService = await startTestHost({ AUTH_MODE: 'appservice' });
    const res = await call(
      appService,
      'POST',
      '/.auth/login/dev',
      { sub: 'alice' },
      { ...anonymous, origin: appService.baseUrl },
    );
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
