import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, call, eventually, startTestHost, TestHost } from '../support/host';

/**
 * Issue 9, point 1, over HTTP: App Service mode (`AUTH_MODE=appservice`). The local host runs as it would on
 * Azure behind App Service Authentication: `WEBSITE_SITE_NAME` set (App Service sets it on every app; the
 * settings refuse only the development sign-in with it) and `WEBSITE_AUTH_ENABLED=True`. The caller is then
 * the platform's `x-ms-client-principal` (base64 JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`)
 * with `x-ms-client-principal-id`/`-name`. Without App Service Authentication on, or off App Service, the same
 * headers are anyone's to send, and are ignored.
 */

const onAzure = { AUTH_MODE: 'appservice', WEBSITE_SITE_NAME: 'orders-appservice-test' };
let host: TestHost;
/** On App Service, App Service Authentication off. */
let authOff: TestHost;
/** App Service Authentication said to be on, but not on App Service (no WEBSITE_SITE_NAME). */
let offPlatform: TestHost;

beforeAll(async () => {
  [host, authOff, offPlatform] = await Promise.all([
    startTestHost({ ...onAzure, WEBSITE_AUTH_ENABLED: 'True', APPROVAL_THRESHOLD: '100.00' }),
    startTestHost({ ...onAzure, WEBSITE_AUTH_ENABLED: '' }),
    startTestHost({ AUTH_MODE: 'appservice', WEBSITE_SITE_NAME: '', WEBSITE_AUTH_ENABLED: 'True' }),
  ]);
});
afterAll(async () => {
  await Promise.all([host?.stop(), authOff?.stop(), offPlatform?.stop()]);
});

/**
 * A request of a user signed in with Microsoft Entra ID, as the app receives it behind App Service
 * Authentication: the client's `Authorization: Bearer <Entra access token>` (validated by the platform, passed
 * on, and opaque to the app) and the principal headers the platform sets.
 */
function principal(objectId: string, name: string, roles: string[] = []): Record<string, string> {
  const claims = [
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId },
    { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: name },
    { typ: 'preferred_username', val: name },
    ...roles.map((val) => ({ typ: 'roles', val })),
  ];
  const encoded = Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      claims,
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
    }),
  ).toString('base64');
  return {
    authorization: `Bearer entra-access-token-of-${objectId}`,
    'x-ms-client-principal': encoded,
    'x-ms-client-principal-id': objectId,
    'x-ms-client-principal-name': name,
    'x-ms-client-principal-idp': 'aad',
  };
}

// Entra object ids: GUIDs, which follow the API's id convention, so they can be customer ids.
const customer = principal('5f0c1e2a-6b7d-4c1e-9a00-000000000042', 'carla@contoso.com');
const approver = principal('a9d3b1c4-2e5f-4a6b-8c7d-0000000000a1', 'ana@contoso.com', ['orders.approve']);
const customerId = customer['x-ms-client-principal-id'];
const approverId = approver['x-ms-client-principal-id'];
let seq = 0;
const newId = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

const expectProblem = (
  res: { status: number; headers: Headers; body: { status?: number } },
  status: number,
) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body.status).toBe(status);
};

describe('App Service Authentication (AUTH_MODE=appservice, WEBSITE_AUTH_ENABLED=True)', () => {
  it('a customer principal creates an order: the customerId and the recorded actor come from the principal', async () => {
    const orderId = newId('as');
    const created = await call(host, 'POST', '/api/orders', { orderId }, customer);
    expect(created.status).toBe(201);
    expect(created.body.customerId).toBe(customerId);
    const events = await call(host, 'GET', `/api/orders/${orderId}/events`, undefined, customer);
    expect(events.status).toBe(200);
    expect(events.body.events[0]).toMatchObject({
      type: 'OrderCreated',
      data: { customerId },
      metadata: { actor: `user:${customerId}` },
    });
    // Another customer's id in the body is refused, as with any sign-in.
    expectProblem(
      await call(host, 'POST', '/api/orders', { orderId: newId('as'), customerId: 'customer-42' }, customer),
      403,
    );
    // The principal's name is not its id: a client-chosen x-ms-client-principal-name never becomes the actor.
    const renamed = { ...customer, 'x-ms-client-principal-name': 'cfo@contoso.com' };
    const item = { productId: 'p-1', quantity: 1, unitPrice: '1.00', currency: 'BRL' };
    expect((await call(host, 'POST', `/api/orders/${orderId}/items`, item, renamed)).status).toBe(200);
    const trail = (await call(host, 'GET', `/api/orders/${orderId}/events`, undefined, customer)).body.events;
    expect(trail.at(-1).metadata.actor).toBe(`user:${customerId}`);
  });

  it('a principal with the app role orders.approve approves an order; the approver recorded is that principal', async () => {
    const orderId = newId('as-big');
    expect((await call(host, 'POST', '/api/orders', { orderId }, customer)).status).toBe(201);
    const item = { productId: 'p-9', quantity: 1, unitPrice: '500.00', currency: 'BRL' };
    expect((await call(host, 'POST', `/api/orders/${orderId}/items`, item, customer)).status).toBe(200);
    expect((await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, customer)).status).toBe(202);
    await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`, undefined, customer);
      return res.body?.step === 'awaiting-approval' ? true : undefined;
    });
    // The customer's principal holds no role: 403.
    expectProblem(
      await call(host, 'POST', `/api/orders/${orderId}/approval`, { approved: true }, customer),
      403,
    );
    const approved = await call(
      host,
      'POST',
      `/api/orders/${orderId}/approval`,
      { approved: true, comment: 'known customer' },
      approver,
    );
    expect(approved.status).toBe(202);
    const decided = await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`, undefined, customer);
      return res.status === 200 ? res : undefined;
    });
    expect(decided.body.output).toMatchObject({ outcome: 'accepted', approvedBy: approverId });
    const trail = (await call(host, 'GET', `/api/orders/${orderId}/events`, undefined, customer)).body.events;
    expect(trail.at(-1)).toMatchObject({ type: 'OrderAccepted', data: { approvedBy: approverId } });
  });

  it('no principal, a malformed principal or a development token is 401', async () => {
    expectProblem(await call(host, 'GET', '/api/orders', undefined, anonymous), 401);
    expectProblem(
      await call(host, 'GET', '/api/orders', undefined, {
        ...anonymous,
        'x-ms-client-principal': 'bm90IGpzb24=',
      }),
      401,
    );
    // The development sign-in is off in this mode: a token signed with the data folder's key is ignored.
    const token = await host.token({ sub: 'root', roles: ['orders.admin'] });
    expectProblem(
      await call(host, 'GET', '/api/orders', undefined, { authorization: `Bearer ${token}` }),
      401,
    );
  });
});

describe('the same headers where the platform does not set them', () => {
  it('with WEBSITE_AUTH_ENABLED unset, the principal headers are ignored: 401', async () => {
    const orderId = newId('off');
    const res = await call(authOff, 'POST', '/api/orders', { orderId }, customer);
    expectProblem(res, 401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expectProblem(await call(authOff, 'GET', '/api/orders', undefined, approver), 401);
    expectProblem(
      await call(authOff, 'POST', `/api/orders/${orderId}/approval`, { approved: true }, approver),
      401,
    );
    expectProblem(await call(authOff, 'GET', `/api/orders/${orderId}`, undefined, customer), 401);
  });

  it('off App Service (no WEBSITE_SITE_NAME), WEBSITE_AUTH_ENABLED=True does not make them trusted: 401', async () => {
    const orderId = newId('offsite');
    expectProblem(await call(offPlatform, 'POST', '/api/orders', { orderId }, customer), 401);
    expectProblem(await call(offPlatform, 'GET', '/api/orders', undefined, approver), 401);
    const token = await offPlatform.token({ sub: 'root', roles: ['orders.admin'] });
    expectProblem(
      await call(offPlatform, 'GET', '/api/orders', undefined, { authorization: `Bearer ${token}` }),
      401,
    );
  });
});
