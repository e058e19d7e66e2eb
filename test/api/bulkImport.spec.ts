import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, authAs, call, startTestHost, TestHost } from '../support/host';

/**
 * Issue 12, point 7: history over HTTP for a trusted importer (`POST /api/import/orders`, role
 * `orders.import`): the role table's row, business times read back, idempotent re-posts, bad bodies.
 */

let host: TestHost;
const tokens: Record<string, string> = {};
const as = (who: string) => authAs(tokens[who]);
let seq = 0;
const newId = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  host = await startTestHost();
  const sign = (sub: string, ...roles: string[]) => host.token({ sub, roles });
  tokens.customer = await sign('customer-42');
  tokens.reader = await sign('bob', 'orders.read');
  tokens.approver = await sign('ana', 'orders.approve');
  tokens.admin = await sign('root', 'orders.admin');
  tokens.importer = await sign('erp-1', 'orders.import');
});
afterAll(async () => {
  await host?.stop();
});

const path = '/api/import/orders';

/** A delivered order with two lines, at Olist-like business times. */
const delivered = (orderId: string) => ({
  orderId,
  customerId: 'customer-imp-1',
  customerState: 'SP',
  createdAt: '2017-10-02T10:56:33-03:00',
  lines: [
    { productId: 'p-1', quantity: 2, unitPrice: '29.99', currency: 'BRL', sellerId: 's-1' },
    { productId: 'p-2', quantity: 1, unitPrice: '10.00', currency: 'BRL' },
  ],
  submittedAt: '2017-10-02T10:56:33-03:00',
  acceptedAt: '2017-10-02T11:07:15-03:00',
  shippedAt: '2017-10-04T19:55:00-03:00',
  deliveredAt: '2017-10-10T21:25:13-03:00',
});

const expectProblem = (
  res: { status: number; headers: Headers; body: { status?: number } },
  status: number,
) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body.status).toBe(status);
};

const fieldsOf = (res: { body: { errors?: { field: string }[] } }) =>
  (res.body.errors ?? []).map((e) => e.field);

describe('who may import (the role table row of POST /api/import/orders)', () => {
  it('anonymous: 401', async () => {
    const orderId = newId('anon');
    expectProblem(await call(host, 'POST', path, { orders: [delivered(orderId)] }, anonymous), 401);
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).status).toBe(404);
  });

  for (const who of ['customer', 'reader', 'approver', 'admin'] as const) {
    const role = {
      customer: 'customer',
      reader: 'orders.read',
      approver: 'orders.approve',
      admin: 'orders.admin',
    }[who];
    it(`${role}: 403, nothing imported`, async () => {
      const orderId = newId(who);
      expectProblem(await call(host, 'POST', path, { orders: [delivered(orderId)] }, as(who)), 403);
      expect((await call(host, 'GET', `/api/orders/${orderId}`)).status).toBe(404);
    });
  }

  it('orders.import: yes', async () => {
    const res = await call(host, 'POST', path, { orders: [delivered(newId('imp'))] }, as('importer'));
    expect(res.status).toBe(200);
    expect(res.body.imported).toBe(1);
  });
});

describe('importing history', () => {
  it('imports orders with their business times, as history by import:<importer>; a re-post adds nothing', async () => {
    const [a, b, c] = [newId('hist'), newId('hist'), newId('hist')];
    const batch = {
      orders: [
        delivered(a),
        {
          // Cancelled after reaching the carrier, without an approval: recorded, reported as anomalies.
          orderId: b,
          customerId: 'customer-imp-2',
          createdAt: '2018-01-01T12:00:00Z',
          lines: [{ productId: 'p-3', quantity: 1, unitPrice: '5.00', currency: 'BRL' }],
          submittedAt: '2018-01-01T12:00:00Z',
          shippedAt: '2018-01-03T09:00:00Z',
          cancelledAt: '2018-01-05T09:00:00Z',
          cancellationReason: 'customer gave up',
        },
        { orderId: c, customerId: 'customer-imp-3', createdAt: '2018-02-01T00:00:00Z' },
      ],
    };
    const first = await call(host, 'POST', path, batch, as('importer'));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      importer: 'import:erp-1',
      imported: 3,
      alreadyPresent: 0,
      refused: 0,
    });
    expect(first.body.orders.map((o: { outcome: string }) => o.outcome)).toEqual([
      'imported',
      'imported',
      'imported',
    ]);
    expect(first.body.orders[1].anomalies).toEqual(['cancelledAfterCarrier']);
    expect(first.body.eventsAppended).toBe(7 + 5 + 1);

    const trail = await call(host, 'GET', `/api/orders/${a}/events`);
    expect(trail.status).toBe(200);
    expect(
      trail.body.events.map((e: { type: string; occurredAt: string }) => [e.type, e.occurredAt]),
    ).toEqual([
      ['OrderCreated', '2017-10-02T13:56:33.000Z'],
      ['ProductAddedToOrder', '2017-10-02T13:56:33.000Z'],
      ['ProductAddedToOrder', '2017-10-02T13:56:33.000Z'],
      ['OrderSubmitted', '2017-10-02T13:56:33.000Z'],
      ['OrderAccepted', '2017-10-02T14:07:15.000Z'],
      ['OrderShipped', '2017-10-04T22:55:00.000Z'],
      ['OrderDelivered', '2017-10-11T00:25:13.000Z'],
    ]);
    for (const e of trail.body.events) expect(e.metadata.actor).toBe('import:erp-1');
    expect(trail.body.events[0].data).toMatchObject({ customerId: 'customer-imp-1', customerState: 'SP' });
    const cancelled = await call(host, 'GET', `/api/orders/${b}`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancellationReason: 'customer gave up' });
    expect((await call(host, 'GET', `/api/orders/${c}`)).body.status).toBe('draft');

    const again = await call(host, 'POST', path, batch, as('importer'));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ imported: 0, alreadyPresent: 3, refused: 0, eventsAppended: 0 });
    expect((await call(host, 'GET', `/api/orders/${a}/events`)).body.events).toHaveLength(7);
  });

  it('an order that exists with other events is refused with the reason and left as it is', async () => {
    const orderId = newId('live');
    expect((await call(host, 'POST', '/api/orders', { orderId }, as('customer'))).status).toBe(201);
    const res = await call(
      host,
      'POST',
      path,
      { orders: [{ ...delivered(orderId), customerId: 'customer-42' }] },
      as('importer'),
    );
    expect(res.status).toBe(200);
    expect(res.body.orders[0]).toMatchObject({ orderId, outcome: 'refused', eventsAppended: 0 });
    expect(res.body.orders[0].reason).toMatch(/other events/);
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.version).toBe(1);
  });
});

describe('bad bodies: 400 naming the field, nothing imported', () => {
  const cases: [string, (id: string) => unknown, string][] = [
    ['no orders', () => ({}), 'body.orders'],
    ['an empty batch', () => ({ orders: [] }), 'body.orders'],
    [
      'a createdAt without a zone',
      (id) => ({ orders: [{ ...delivered(id), createdAt: '2017-10-02 10:56:33' }] }),
      'body.orders.0.createdAt',
    ],
    ['a bad orderId', () => ({ orders: [delivered('a b')] }), 'body.orders.0.orderId'],
    [
      'a bad unit price',
      (id) => ({
        orders: [
          { ...delivered(id), lines: [{ productId: 'p', quantity: 1, unitPrice: '1e3', currency: 'BRL' }] },
        ],
      }),
      'body.orders.0.lines.0.unitPrice',
    ],
    [
      'delivered without shipped',
      (id) => ({ orders: [{ ...delivered(id), shippedAt: undefined }] }),
      'body.orders.0.deliveredAt',
    ],
    [
      'accepted without submitted',
      (id) => ({ orders: [{ ...delivered(id), submittedAt: undefined }] }),
      'body.orders.0.acceptedAt',
    ],
    ['an order twice', (id) => ({ orders: [delivered(id), delivered(id)] }), 'body.orders.1.orderId'],
    [
      'an actor in the body',
      (id) => ({ orders: [{ ...delivered(id), actor: 'user:someone' }] }),
      'body.orders.0.actor',
    ],
  ];
  for (const [name, body, field] of cases) {
    it(`${name}: 400 naming ${field}`, async () => {
      const id = newId('bad');
      const res = await call(host, 'POST', path, body(id), as('importer'));
      expectProblem(res, 400);
      expect(fieldsOf(res)).toContain(field);
      expect((await call(host, 'GET', `/api/orders/${id}`)).status).toBe(404);
    });
  }

  it('the batch limit: 100 orders at most (400 naming body.orders), 1 MB at most (413)', async () => {
    const many = Array.from({ length: 101 }, () => ({
      orderId: newId('many'),
      customerId: 'c-1',
      createdAt: '2018-01-01T00:00:00Z',
    }));
    const tooMany = await call(host, 'POST', path, { orders: many }, as('importer'));
    expectProblem(tooMany, 400);
    expect(fieldsOf(tooMany)).toContain('body.orders');
    expect((await call(host, 'GET', `/api/orders/${many[0].orderId}`)).status).toBe(404);
    const huge = await call(
      host,
      'POST',
      path,
      { orders: [{ ...delivered(newId('huge')), cancellationReason: 'x'.repeat(1_100_000) }] },
      as('importer'),
    );
    expectProblem(huge, 413);
  });
});
