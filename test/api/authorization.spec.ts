import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devSignInKey, signDevToken } from '../../src/adapters/devSignIn';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymous, authAs, call, eventually, startTestHost, TestHost } from '../support/host';

/**
 * Issue 9, points 1-3, over HTTP against the local host: one test per rule of the role table (README, "Who may
 * do what"), the development sign-in, CORS and the cross-site guard, and URLs that never come from `Host`.
 */

let host: TestHost;
const tokens: Record<string, string> = {};
const as = (who: string) => authAs(tokens[who]);
let seq = 0;
const newId = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  host = await startTestHost({ CORS_ALLOWED_ORIGINS: 'https://shop.example', APPROVAL_THRESHOLD: '100.00' });
  const sign = (sub: string, ...roles: string[]) => host.token({ sub, roles });
  tokens.customer42 = await sign('customer-42');
  tokens.customer7 = await sign('customer-7');
  tokens.approver = await sign('ana', 'orders.approve');
  tokens.reader = await sign('bob', 'orders.read');
  tokens.admin = await sign('root', 'orders.admin');
  tokens.approvingCustomer = await sign('customer-99', 'orders.approve');
});
afterAll(async () => {
  await host?.stop();
});

/** An order of `who` (a customer token), created by them, with one line. */
async function orderOf(who: string, unitPrice = '10.00'): Promise<string> {
  const orderId = newId('auth');
  const created = await call(host, 'POST', '/api/orders', { orderId }, as(who));
  expect(created.status).toBe(201);
  const added = await call(
    host,
    'POST',
    `/api/orders/${orderId}/items`,
    { productId: 'p-1', quantity: 1, unitPrice, currency: 'BRL' },
    as(who),
  );
  expect(added.status).toBe(200);
  return orderId;
}

const versionOf = async (orderId: string): Promise<number> =>
  (await call(host, 'GET', `/api/orders/${orderId}`)).body.version;

async function awaitingApproval(orderId: string): Promise<void> {
  await eventually(async () => {
    const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
    return res.body?.step === 'awaiting-approval' ? true : undefined;
  });
}

const expectProblem = (
  res: { status: number; headers: Headers; body: { status?: number } },
  status: number,
) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body.status).toBe(status);
};

describe('who may do what (the role table)', () => {
  it('anonymous: health and the OpenAPI document only; everything else is 401 problem+json', async () => {
    expect((await call(host, 'GET', '/api/health', undefined, anonymous)).status).toBe(200);
    const doc = await call(host, 'GET', '/api/openapi.json', undefined, anonymous);
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.components.securitySchemes)).toEqual(['devBearer', 'appServicePrincipal']);
    expect(doc.body.paths['/api/health'].get.security).toEqual([]);
    expect(doc.body.paths['/api/orders'].post.security).toEqual([
      { devBearer: [] },
      { appServicePrincipal: [] },
    ]);
    expect(doc.body.paths['/api/orders'].post.responses['401']).toBeDefined();
    for (const [method, path, body] of [
      ['GET', '/api/orders', undefined],
      ['POST', '/api/orders', { customerId: 'customer-42' }],
      ['GET', '/api/orders/x', undefined],
      ['GET', '/api/stock/p-1', undefined],
      ['GET', '/api/schemas/events/OrderCreated/2', undefined],
      ['POST', '/api/orders/x/approval', { approved: true }],
    ] as const) {
      const res = await call(host, method, path, body, anonymous);
      expectProblem(res, 401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('a customer creates orders for themselves: the customerId is their id; another customerId is 403', async () => {
    const orderId = newId('self');
    const created = await call(host, 'POST', '/api/orders', { orderId }, as('customer42'));
    expect(created.status).toBe(201);
    expect(created.body.customerId).toBe('customer-42');
    const same = await call(
      host,
      'POST',
      '/api/orders',
      { orderId: newId('self'), customerId: 'customer-42' },
      as('customer42'),
    );
    expect(same.status).toBe(201);
    const otherId = newId('other');
    const other = await call(
      host,
      'POST',
      '/api/orders',
      { orderId: otherId, customerId: 'customer-7' },
      as('customer42'),
    );
    expectProblem(other, 403);
    expect((await call(host, 'GET', `/api/orders/${otherId}`)).status).toBe(404);
    const [event] = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events;
    expect(event.metadata.actor).toBe('user:customer-42');
  });

  it("a customer reads, changes, submits and cancels only their own orders: another customer's order is 404", async () => {
    const orderId = await orderOf('customer42');
    const before = await versionOf(orderId);
    for (const [method, path, body] of [
      ['GET', `/api/orders/${orderId}`, undefined],
      ['GET', `/api/orders/${orderId}/events`, undefined],
      ['GET', `/api/orders/${orderId}/acceptance`, undefined],
      ['GET', `/api/orders/${orderId}/notifications`, undefined],
      [
        'POST',
        `/api/orders/${orderId}/items`,
        { productId: 'p-2', quantity: 1, unitPrice: '1.00', currency: 'BRL' },
      ],
      ['DELETE', `/api/orders/${orderId}/items/p-1`, undefined],
      ['POST', `/api/orders/${orderId}/submit`, undefined],
      ['POST', `/api/orders/${orderId}/cancel`, { reason: 'not mine' }],
    ] as const) {
      const res = await call(host, method, path, body, as('customer7'));
      expectProblem(res, 404);
      expect(res.body.detail).toBe('order does not exist');
    }
    expect(await versionOf(orderId)).toBe(before);
    // The owner can do each of them.
    expect((await call(host, 'GET', `/api/orders/${orderId}`, undefined, as('customer42'))).status).toBe(200);
    expect(
      (await call(host, 'GET', `/api/orders/${orderId}/events`, undefined, as('customer42'))).status,
    ).toBe(200);
    expect(
      (await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, as('customer42'))).status,
    ).toBe(202);
    const cancelled = await call(
      host,
      'POST',
      `/api/orders/${orderId}/cancel`,
      { reason: 'changed my mind' },
      as('customer42'),
    );
    expect(cancelled.status).toBe(200);
    const trail = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events;
    expect(trail.find((e: { type: string }) => e.type === 'OrderCancelled').metadata.actor).toBe(
      'user:customer-42',
    );
  });

  it('a customer listing sees only their own orders, whatever customerId the query names', async () => {
    const mine = await orderOf('customer7');
    await orderOf('customer42');
    const list = await eventually(async () => {
      const res = await call(
        host,
        'GET',
        '/api/orders?customerId=customer-42&limit=1000',
        undefined,
        as('customer7'),
      );
      return res.body.items?.some((o: { orderId: string }) => o.orderId === mine) ? res : undefined;
    });
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThan(0);
    expect(list.body.items.every((o: { customerId: string }) => o.customerId === 'customer-7')).toBe(true);
  });

  it('orders.read reads and lists all orders and audit trails, and changes none', async () => {
    const orderId = await orderOf('customer42');
    expect((await call(host, 'GET', `/api/orders/${orderId}`, undefined, as('reader'))).status).toBe(200);
    expect((await call(host, 'GET', `/api/orders/${orderId}/events`, undefined, as('reader'))).status).toBe(
      200,
    );
    expect((await call(host, 'GET', '/api/stock/p-1', undefined, as('reader'))).status).toBe(200);
    const list = await eventually(async () => {
      const res = await call(
        host,
        'GET',
        '/api/orders?customerId=customer-42&limit=1000',
        undefined,
        as('reader'),
      );
      return res.body.items?.some((o: { orderId: string }) => o.orderId === orderId) ? res : undefined;
    });
    expect(list.status).toBe(200);
    const before = await versionOf(orderId);
    // Without orders.admin a reader is a customer for writes: another customer's order does not exist for them.
    expectProblem(
      await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'x' }, as('reader')),
      404,
    );
    expectProblem(await call(host, 'POST', '/api/orders', { customerId: 'customer-42' }, as('reader')), 403);
    expect(await versionOf(orderId)).toBe(before);
    // A customer has no access to the stock demand, which is not theirs.
    expectProblem(await call(host, 'GET', '/api/stock/p-1', undefined, as('customer42')), 403);
  });

  it('orders.approve is the only way to approve or reject, and the approver recorded is the identity', async () => {
    const orderId = await orderOf('customer42', '500.00');
    expect(
      (await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, as('customer42'))).status,
    ).toBe(202);
    await awaitingApproval(orderId);
    for (const who of ['customer42', 'reader', 'admin']) {
      expectProblem(
        await call(host, 'POST', `/api/orders/${orderId}/approval`, { approved: true }, as(who)),
        403,
      );
    }
    const named = await call(
      host,
      'POST',
      `/api/orders/${orderId}/approval`,
      { approved: true, approver: 'cfo@contoso.com' },
      as('approver'),
    );
    expectProblem(named, 400);
    const approved = await call(
      host,
      'POST',
      `/api/orders/${orderId}/approval`,
      { approved: true },
      as('approver'),
    );
    expect(approved.status).toBe(202);
    const decided = await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
      return res.status === 200 ? res : undefined;
    });
    expect(decided.body.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ana' });
    const trail = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events;
    expect(trail.at(-1)).toMatchObject({ type: 'OrderAccepted', data: { approvedBy: 'ana' } });
  });

  it('an approver cannot approve their own order (403)', async () => {
    const orderId = await orderOf('approvingCustomer', '500.00');
    expect(
      (await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, as('approvingCustomer'))).status,
    ).toBe(202);
    await awaitingApproval(orderId);
    const own = await call(
      host,
      'POST',
      `/api/orders/${orderId}/approval`,
      { approved: true },
      as('approvingCustomer'),
    );
    expectProblem(own, 403);
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.status).toBe('submitted');
  });

  it('orders.admin creates orders for any customer and changes any order', async () => {
    const orderId = newId('admin');
    const created = await call(
      host,
      'POST',
      '/api/orders',
      { orderId, customerId: 'customer-42' },
      as('admin'),
    );
    expect(created.status).toBe(201);
    expect(created.body.customerId).toBe('customer-42');
    expectProblem(await call(host, 'POST', '/api/orders', { orderId: newId('admin') }, as('admin')), 400);
    expect(
      (await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'support' }, as('admin'))).status,
    ).toBe(200);
    expect((await call(host, 'GET', `/api/orders/${orderId}`, undefined, as('customer42'))).body.status).toBe(
      'cancelled',
    );
  });
});

describe('development sign-in', () => {
  it('an expired token, a forged signature or a tampered token is 401, and changes nothing', async () => {
    const orderId = await orderOf('customer42');
    const before = await versionOf(orderId);
    const key = devSignInKey(host.dataDir);
    const expired = await signDevToken(
      key,
      { sub: 'customer-42', roles: [] },
      60,
      Math.floor(Date.now() / 1000) - 3600,
    );
    const forged = await signDevToken(devSignInKey(mkdtempSync(join(tmpdir(), 'other-key-'))), {
      sub: 'root',
      roles: ['orders.admin'],
    });
    const [h, , s] = tokens.customer42.split('.');
    const payload = Buffer.from(
      JSON.stringify({
        sub: 'root',
        roles: ['orders.admin'],
        iss: 'order-events/dev-signin',
        aud: 'order-events',
        exp: 4102444800,
      }),
    ).toString('base64url');
    for (const token of [expired, forged, `${h}.${payload}.${s}`, 'not-a-jwt']) {
      const res = await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'x' }, authAs(token));
      expectProblem(res, 401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    expect(await versionOf(orderId)).toBe(before);
  });

  it('a forged x-ms-client-principal header locally is ignored: the identity is only the token', async () => {
    const principal = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        claims: [{ typ: 'roles', val: 'orders.admin' }],
        name_typ: 'name',
        role_typ: 'roles',
      }),
    ).toString('base64');
    const forged = {
      'x-ms-client-principal': principal,
      'x-ms-client-principal-id': 'root',
      'x-ms-client-principal-name': 'cfo@contoso.com',
    };
    expectProblem(await call(host, 'GET', '/api/orders', undefined, { ...anonymous, ...forged }), 401);
    const orderId = newId('forged');
    const created = await call(host, 'POST', '/api/orders', { orderId }, { ...as('customer42'), ...forged });
    expect(created.body.customerId).toBe('customer-42');
    const [event] = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events;
    expect(event.metadata.actor).toBe('user:customer-42');
    expectProblem(
      await call(host, 'GET', '/api/stock/p-1', undefined, { ...as('customer42'), ...forged }),
      403,
    );
  });
});

describe('browser safety', () => {
  it('answers a CORS preflight from an allowed origin with the methods and headers', async () => {
    const res = await call(host, 'OPTIONS', '/api/orders', undefined, {
      ...anonymous,
      origin: 'https://shop.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, GET, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const item = await call(host, 'OPTIONS', '/api/orders/o-1/items/p-1', undefined, {
      ...anonymous,
      origin: 'https://shop.example',
    });
    expect(item.headers.get('access-control-allow-methods')).toBe('DELETE, OPTIONS');
    const get = await call(host, 'GET', '/api/health', undefined, { origin: 'https://shop.example' });
    expect(get.headers.get('access-control-allow-origin')).toBe('https://shop.example');
  });

  it('refuses a CORS preflight from any other origin, and sends no CORS headers to it', async () => {
    const res = await call(host, 'OPTIONS', '/api/orders', undefined, {
      ...anonymous,
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
    });
    expectProblem(res, 403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const get = await call(host, 'GET', '/api/health', undefined, { origin: 'https://evil.example' });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a cross-site form post (no JSON Content-Type, Origin evil) and changes nothing', async () => {
    const orderId = await orderOf('customer42');
    const before = await versionOf(orderId);
    const form = { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' };
    // What a browser sends from another site without a preflight: no Authorization header.
    const res = await call(host, 'POST', `/api/orders/${orderId}/cancel`, 'reason=evil', {
      ...anonymous,
      ...form,
    });
    expect([401, 403]).toContain(res.status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const bare = await fetch(`${host.baseUrl}/api/orders/${orderId}/submit`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    });
    expect([401, 403]).toContain(bare.status);
    // Even with credentials, a write from a foreign origin is refused (403), as is a write that is not JSON (415).
    expectProblem(
      await call(
        host,
        'POST',
        `/api/orders/${orderId}/cancel`,
        { reason: 'evil' },
        { ...as('customer42'), origin: 'https://evil.example' },
      ),
      403,
    );
    expectProblem(
      await call(host, 'POST', `/api/orders/${orderId}/cancel`, 'reason=evil', {
        ...as('customer42'),
        'content-type': 'text/plain',
      }),
      415,
    );
    const noType = await fetch(`${host.baseUrl}/api/orders/${orderId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.customer42}` },
      body: new Uint8Array(Buffer.from('{"reason":"x"}')),
    });
    expect(noType.status).toBe(415);
    expect(await versionOf(orderId)).toBe(before);
    // The allowed origin may write.
    expect(
      (
        await call(
          host,
          'POST',
          `/api/orders/${orderId}/cancel`,
          { reason: 'ok' },
          { ...as('customer42'), origin: 'https://shop.example' },
        )
      ).status,
    ).toBe(200);
  });

  it('Host: attacker.example does not appear in any answer', async () => {
    const orderId = await orderOf('customer42');
    const url = new URL(`${host.baseUrl}/api/orders/${orderId}/submit`);
    const answer = await new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            host: 'attacker.example',
            authorization: `Bearer ${tokens.customer42}`,
            'content-type': 'application/json',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: JSON.stringify(res.headers),
              body: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(202);
    expect(answer.body + answer.headers).not.toContain('attacker.example');
    expect(JSON.parse(answer.body).acceptance.statusQueryGetUri).toBe(
      `${host.baseUrl}/api/orders/${orderId}/acceptance`,
    );
  });
});
