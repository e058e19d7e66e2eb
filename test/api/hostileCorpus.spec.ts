import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devSignInKey, signDevToken } from '../../src/adapters/devSignIn';
import { allRoutes, methodsOf, RouteSpec } from '../../src/http/routes';
import { authAs, call, eventually, startTestHost, TestHost } from '../support/host';

/**
 * Issue 9, point 7: the hostile corpus as a test. Over 2,000 bad requests, generated with fast-check from a
 * fixed seed, for every route of `allRoutes` and every role of the role table (anonymous, two customers,
 * `orders.read`, `orders.approve`, `orders.admin`, plus invalid tokens, a staff member whose id cannot be a
 * customer's and a customer named `__proto__`): wrong roles, other customers' orders, forged App Service
 * principal headers, and mutations of valid requests (bodies, content types, If-Match, Idempotency-Key, path
 * and query parameters, methods, origins, states that forbid the command). Each request is built to be
 * refused; none may be answered 2xx or 5xx, every answer is problem details, and afterwards the canary
 * orders read back byte for byte as before, and no order was created.
 *
 * Also point 3 over HTTP: query parameters and headers named `__proto__` or `constructor` are data.
 */

const seed = 20_240_909;
/** Requests per (route, role) pair: the six roles of the table, then the extra identities. */
const perPair = 20;
const perExtraPair = 8;
const concurrency = 8;

const tableRoles = ['anonymous', 'customerA', 'customerB', 'reader', 'approver', 'admin'] as const;
const extraRoles = ['badToken', 'staff', 'protoCustomer'] as const;
type Role = (typeof tableRoles)[number] | (typeof extraRoles)[number];
type SignedIn = Exclude<Role, 'anonymous' | 'badToken'>;

/** Who each signed-in role is: a development token with this subject and these roles. */
const principals: Record<SignedIn, { sub: string; roles: string[] }> = {
  customerA: { sub: 'customer-a', roles: [] },
  customerB: { sub: 'customer-b', roles: [] },
  // Staff whose ids can be customer ids: without the route's role they act as customers (owning nothing).
  reader: { sub: 'reader-1', roles: ['orders.read'] },
  approver: { sub: 'approver-1', roles: ['orders.approve'] },
  admin: { sub: 'admin-1', roles: ['orders.admin'] },
  // An id that cannot be a customer's: refused (403) wherever it would act as a customer.
  staff: { sub: 'auditor@example.com', roles: ['orders.read'] },
  protoCustomer: { sub: '__proto__', roles: [] },
};
const idFormat = /^[A-Za-z0-9_.:-]{1,128}$/;

interface Canary {
  id: string;
  owner: SignedIn;
  lines: string[];
}
/** One order per customer, in several states; the approver owns one too (as a customer). */
const canaries = {
  A1: { id: 'canary-a1', owner: 'customerA', lines: ['p-1', 'p-2'] }, // draft with items
  A2: { id: 'canary-a2', owner: 'customerA', lines: ['p-3'] }, // accepted
  B1: { id: 'canary-b1', owner: 'customerB', lines: ['p-1'] }, // draft with items
  B2: { id: 'canary-b2', owner: 'customerB', lines: ['p-4'] }, // cancelled
  C1: { id: 'canary-c1', owner: 'approver', lines: ['p-9'] }, // submitted, awaiting approval
} satisfies Record<string, Canary>;
const allCanaries: Canary[] = Object.values(canaries);
/** Valid ids of orders that do not exist (names of Object.prototype's properties among them). */
const missingOrders = [
  'no-such-order',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  'isPrototypeOf',
  '__defineGetter__',
  'then',
  'canary-a1.x',
  'CANARY-A1',
];
const missingProducts = [
  'no-such-product',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
];
const missingSchemas: [string, string][] = [
  ['constructor', '1'],
  ['toString', '1'],
  ['valueOf', '1'],
  ['hasOwnProperty', '1'],
  ['isPrototypeOf', '1'],
  ['propertyIsEnumerable', '1'],
  ['toLocaleString', '1'],
  ['NoSuchEvent', '1'],
  ['OrderCreated', '999'],
  ['OrderSubmitted', '1000'],
];

/** How a role may use a route, per the README's role table (an oracle written apart from src/http). */
type Access = 'unauthenticated' | 'forbidden' | 'owner' | 'self' | 'full';
function accessOf(route: RouteSpec, role: Role): Access {
  if (role === 'badToken') return 'unauthenticated';
  if (route.name === 'health' || route.name === 'openApi') return 'full';
  if (role === 'anonymous') return 'unauthenticated';
  const { sub, roles } = principals[role];
  const has = (r: string) => roles.includes(r);
  const customer = idFormat.test(sub) && !/^\.+$/.test(sub);
  const asCustomer = (how: 'owner' | 'self'): Access => (customer ? how : 'forbidden');
  switch (route.name) {
    case 'getEventSchema':
    case 'getMe':
      return 'full';
    case 'createOrder':
      return has('orders.admin') ? 'full' : asCustomer('self');
    case 'addOrderItem':
    case 'removeOrderItem':
    case 'submitOrder':
    case 'cancelOrder':
      return has('orders.admin') ? 'full' : asCustomer('owner');
    case 'getOrder':
    case 'getOrderEvents':
    case 'getOrderAcceptance':
    case 'getOrderNotifications':
      // Approvers read every order too (README: they decide from the order's story).
      return has('orders.read') || has('orders.approve') || has('orders.admin')
        ? 'full'
        : asCustomer('owner');
    case 'listOrders':
      return has('orders.read') || has('orders.approve') || has('orders.admin') ? 'full' : asCustomer('self');
    case 'getStockDemand':
    case 'getFunnel':
    case 'getProcessMap':
    case 'getOcel':
    case 'getFunnelDropOffs':
    case 'getOverview':
    case 'getRecentEvents':
      return has('orders.read') || has('orders.admin') ? 'full' : 'forbidden';
    case 'approveOrder':
      return has('orders.approve') ? 'full' : 'forbidden';
    case 'importOrders':
      // The importer role only (README, "Who may do what"); no role of the table holds it, orders.admin neither.
      return has('orders.import') ? 'full' : 'forbidden';
    default:
      throw new Error(`the hostile corpus does not know the route ${route.name}: add it to accessOf`);
  }
}

/** A request of the corpus; its Authorization header is made from `role` when it is sent (tokens need the host's key). */
interface Req {
  defect: string;
  note: string;
  route: string;
  role: Role;
  method: string;
  path: string;
  /** Index into `badTokens` for the `badToken` role. */
  badToken?: number;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Send the body with no Content-Type at all. */
  noContentType?: boolean;
  /** The exact status, where the request has one defect that decides it. */
  expect?: number;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const b64url = (text: string) => Buffer.from(text).toString('base64url');
const adminPrincipal = (id: string) =>
  b64({
    auth_typ: 'aad',
    claims: [
      { typ: 'roles', val: 'orders.admin' },
      { typ: 'roles', val: 'orders.approve' },
      { typ: 'roles', val: 'orders.read' },
      { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: id },
    ],
    name_typ: 'name',
    role_typ: 'roles',
  });
/** App Service principal headers a client forges; in development mode they must change nothing. */
const forgedHeaders: Record<string, string>[] = [
  {
    'x-ms-client-principal': adminPrincipal('customer-a'),
    'x-ms-client-principal-id': 'customer-a',
    'x-ms-client-principal-name': 'customer-a',
  },
  {
    'x-ms-client-principal': adminPrincipal('customer-b'),
    'x-ms-client-principal-id': 'customer-b',
    'x-ms-client-principal-name': 'cfo@contoso.com',
  },
  { 'x-ms-client-principal': adminPrincipal('approver-1'), 'x-ms-client-principal-id': 'approver-1' },
  { 'x-ms-client-principal-name': 'cfo@contoso.com' },
  { 'x-ms-client-principal-id': 'admin-1' },
  { 'x-ms-client-principal': 'not base64 at all !!' },
  { 'x-ms-client-principal': b64({ claims: 'nope' }) },
  {
    'x-ms-client-principal': Buffer.from(
      '{"__proto__":{"roles":["orders.admin"]},"claims":[{"typ":"roles","val":"orders.admin"}]}',
    ).toString('base64'),
    'x-ms-client-principal-id': '__proto__',
  },
];
/** Headers that carry no meaning for the outcome: forged principals, junk trace headers. */
const noiseArb: fc.Arbitrary<{ note: string; headers: Record<string, string> }> = fc
  .record({
    forged: fc.option(fc.nat({ max: forgedHeaders.length - 1 }), { nil: undefined }),
    trace: fc.option(fc.constantFrom('00-zz-zz-01', 'ff-' + '1'.repeat(32) + '-' + '1'.repeat(16) + '-01'), {
      nil: undefined,
    }),
    correlation: fc.option(fc.constantFrom('a b', 'x'.repeat(500), '__proto__'), { nil: undefined }),
  })
  .map(({ forged, trace, correlation }) => ({
    note: forged === undefined ? '' : ` +forged principal #${forged}`,
    headers: {
      ...(forged === undefined ? {} : forgedHeaders[forged]),
      ...(trace === undefined ? {} : { traceparent: trace }),
      ...(correlation === undefined ? {} : { 'x-correlation-id': correlation }),
    },
  }));

function pathOf(route: RouteSpec, params: Record<string, string>, raw?: { name: string; value: string }) {
  return (
    '/api/' +
    route.route.replace(/\{(\w+)\}/g, (_, name: string) =>
      raw?.name === name ? raw.value : encodeURIComponent(params[name] ?? 'x'),
    )
  );
}
const paramNames = (route: RouteSpec) => [...route.route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
const hasOrder = (route: RouteSpec) => paramNames(route).includes('orderId');

/** Path values that are valid for the route, on order `orderId`. */
function validParams(orderId: string): Record<string, string> {
  const canary = allCanaries.find((c) => c.id === orderId);
  return { orderId, productId: canary?.lines[0] ?? 'p-1', eventType: 'OrderCreated', schemaVersion: '1' };
}

/** A body the route would accept from this role (the defect lies elsewhere). */
function validBody(route: RouteSpec, role: Role, n: number): Record<string, unknown> | undefined {
  switch (route.name) {
    case 'createOrder':
      return role === 'admin'
        ? { orderId: `corpus-new-${n}`, customerId: 'customer-a' }
        : { orderId: `corpus-new-${n}` };
    case 'addOrderItem':
      return { productId: 'p-7', quantity: 1, unitPrice: '10.00', currency: 'BRL' };
    case 'cancelOrder':
      return { reason: 'corpus' };
    case 'approveOrder':
      return { approved: true };
    default:
      return undefined;
  }
}

const own = (role: Role) => allCanaries.filter((c) => c.owner === role).map((c) => c.id);
const foreign = (role: Role) => [
  ...allCanaries.filter((c) => c.owner !== role).map((c) => c.id),
  ...missingOrders,
];
const anyCanary = allCanaries.map((c) => c.id);

/** The request a role would send, before a defect is applied. */
function base(
  defect: string,
  route: RouteSpec,
  role: Role,
  orderId: string,
  n: number,
  params: Record<string, string> = validParams(orderId),
): Req {
  const body = route.body ? validBody(route, role, n) : undefined;
  return {
    defect,
    note: '',
    route: route.name,
    role,
    method: route.method,
    path: pathOf(route, params),
    headers: {},
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

type Defect = (route: RouteSpec, role: Role, access: Access) => fc.Arbitrary<Req> | undefined;
const signedInAccess = (a: Access) => a === 'owner' || a === 'self' || a === 'full';

const unauthenticated: Defect = (route, role, access) =>
  access !== 'unauthenticated'
    ? undefined
    : fc
        .record({ orderId: fc.constantFrom(...anyCanary), n: fc.nat(), token: fc.nat() })
        .map(({ orderId, n, token }) => ({
          ...base('unauthenticated', route, role, orderId, n),
          ...(role === 'badToken' ? { badToken: token } : {}),
          expect: 401,
        }));

const forbidden: Defect = (route, role, access) =>
  access !== 'forbidden'
    ? undefined
    : fc
        .record({ orderId: fc.constantFrom(...anyCanary), n: fc.nat() })
        .map(({ orderId, n }) => ({ ...base('wrong role', route, role, orderId, n), expect: 403 }));

/** A customer (or a staff member acting as one) on an order that is not theirs: 404, as if it did not exist. */
const notOwner: Defect = (route, role, access) =>
  access !== 'owner' || !hasOrder(route)
    ? undefined
    : fc
        .record({
          orderId: fc.constantFrom(...foreign(role)),
          n: fc.nat(),
          ifMatch: fc.boolean(),
          key: fc.boolean(),
        })
        .map(({ orderId, n, ifMatch, key }) => {
          const req = base("another customer's order", route, role, orderId, n);
          if (route.ifMatch && ifMatch) req.headers['if-match'] = '"1"';
          if (route.idempotencyKey && key) req.headers['idempotency-key'] = `corpus-${n}`;
          return { ...req, note: orderId, expect: 404 };
        });

/** A customer creating an order for another customer: 403. */
const createForOther: Defect = (route, role, access) =>
  route.name !== 'createOrder' || access !== 'self'
    ? undefined
    : fc
        .record({
          customerId: fc.constantFrom('customer-a', 'customer-b', 'admin-1', 'constructor', 'toString'),
          n: fc.nat(),
        })
        .filter(({ customerId }) => customerId !== principals[role as SignedIn].sub)
        .map(({ customerId, n }) => ({
          ...base('order for another customer', route, role, anyCanary[0], n),
          body: JSON.stringify({ orderId: `corpus-new-${n}`, customerId }),
          note: customerId,
          expect: 403,
        }));

/** A caller who may read or change any order (or product, or schema), on one that does not exist: 404. */
const noSuchThing: Defect = (route, role, access) => {
  if (access !== 'full') return undefined;
  const names = paramNames(route);
  if (names.includes('orderId'))
    return fc.record({ orderId: fc.constantFrom(...missingOrders), n: fc.nat() }).map(({ orderId, n }) => ({
      ...base('no such order', route, role, orderId, n),
      note: orderId,
      expect: 404,
    }));
  if (names.includes('productId'))
    return fc
      .record({ productId: fc.constantFrom(...missingProducts), n: fc.nat() })
      .map(({ productId, n }) => ({
        ...base('no such product', route, role, anyCanary[0], n, { productId }),
        note: productId,
        expect: 404,
      }));
  if (names.includes('eventType'))
    return fc.record({ schema: fc.constantFrom(...missingSchemas), n: fc.nat() }).map(({ schema, n }) => ({
      ...base('no such schema', route, role, anyCanary[0], n, {
        eventType: schema[0],
        schemaVersion: schema[1],
      }),
      note: schema.join(' v'),
      expect: 404,
    }));
  return undefined;
};

const badIds = [
  'x'.repeat(129),
  '...',
  '....',
  'a b',
  'a/b',
  'é',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  'a\u0000b',
  '😀',
  'a?b',
  'a#b',
  'a\\b',
  'a\nb',
  'order;1',
  '%',
  '%2F',
  ' ',
];
/** Sent as they are (not percent-encoded): broken percent-encoding. */
const rawBadIds = ['%E0%A4%A', '%ZZ', '%', '%C0%AF', 'a%', '%D8%00'];
const badEventTypes = ['Order-Created', 'Order_Created', 'Order1', 'x'.repeat(65), '__proto__', 'é', 'a b'];
const badVersions = ['0', '01', '1e1', '-1', '1001', 'x', '1.0', '+1', '0x1', '99999999999', '１', ' 1'];

const badPath: Defect = (route, role, access) => {
  const names = paramNames(route);
  if (!names.length || !signedInAccess(access)) return undefined;
  return fc
    .record({
      name: fc.constantFrom(...names),
      pick: fc.nat(),
      raw: fc.boolean(),
      orderId: fc.constantFrom(...anyCanary),
      n: fc.nat(),
    })
    .map(({ name, pick, raw, orderId, n }) => {
      const values =
        name === 'eventType'
          ? badEventTypes
          : name === 'schemaVersion'
            ? badVersions
            : raw
              ? rawBadIds
              : badIds;
      const value = values[pick % values.length];
      const sentRaw = values === rawBadIds;
      const req = base('bad path parameter', route, role, orderId, n);
      return {
        ...req,
        path: pathOf(route, validParams(orderId), {
          name,
          value: sentRaw ? value : encodeURIComponent(value),
        }),
        note: `${name}=${JSON.stringify(value.slice(0, 40))}${sentRaw ? ' (raw)' : ''}`,
        expect: 400,
      };
    });
};

const prototypeNames = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const genericQueryNames = [
  ...prototypeNames,
  'x',
  'orderId',
  'limit',
  'asOf',
  'status',
  'customerId',
  'CODE',
];
const queryValues = ['1', 'x', '{}', 'true', '__proto__'];
const one = (name: string, value: string): [string, string][] => [[name, value]];
const both = (...entries: [string, string][]): [string, string][] => entries;
/** Invalid query strings per route; the routes that take none refuse any non-empty parameter. */
function badQueries(route: RouteSpec): [string, string][][] {
  const valid: Record<string, string[]> = {
    getOrder: ['asOf'],
    listOrders: ['status', 'customerId', 'limit', 'continuationToken'],
    getOrderEvents: ['limit', 'continuationToken'],
    getRecentEvents: ['limit', 'types'],
    getFunnelDropOffs: ['limit'],
  };
  const accepted = valid[route.name] ?? [];
  const generic = genericQueryNames
    .filter((q) => !accepted.includes(q))
    .flatMap((name) => queryValues.map((v) => one(name, v)));
  if (route.name === 'getOrder')
    return [
      ...generic,
      ...[
        '2020-01-01',
        'yesterday',
        '2020-13-01T00:00:00Z',
        '2020-01-01T00:00:00',
        '1577836800',
        '2020-01-01T25:00:00Z',
        'x'.repeat(300),
        '__proto__',
      ].map((v) => one('asOf', v)),
      both(['asOf', '2020-01-01T00:00:00Z'], ['asOf', '2021-01-01T00:00:00Z']),
    ];
  if (route.name === 'getFunnel' || route.name === 'getProcessMap' || route.name === 'getOcel') {
    const badTimes = ['2020-01-01', 'yesterday', '2020-13-01T00:00:00Z', '2020-01-01T00:00:00', '__proto__'];
    return [
      ...generic,
      ...badTimes.flatMap((v) => [one('from', v), one('to', v)]),
      both(['from', '2021-01-01T00:00:00Z'], ['to', '2020-01-01T00:00:00Z']),
      both(['from', '2020-01-01T00:00:00Z'], ['from', '2021-01-01T00:00:00Z']),
      ...(route.name === 'getOcel'
        ? ['sqlite', 'xml', 'JSON', '__proto__'].map((v) => one('format', v))
        : ['Business', 'wall', 'constructor'].map((v) => one('time', v))),
      ...(route.name === 'getFunnel'
        ? [
            ...[
              ',',
              'OrderCreated,,OrderShipped',
              'orderCreated',
              '__proto__',
              'toString',
              'x'.repeat(2001),
            ].map((v) => one('steps', v)),
            ...['0d', '30', '1w', '-1d', '1.5h', '9999999d', 'constructor'].map((v) => one('window', v)),
            ...['order', 'Customers', '__proto__'].map((v) => one('countBy', v)),
            ...['customerId', 'state', '__proto__', 'hasOwnProperty'].map((v) => one('breakdown', v)),
          ]
        : []),
    ];
  }
  if (route.name === 'getRecentEvents') {
    return [
      ...generic,
      ...['0', '201', '-1', 'abc', '5.5', '__proto__'].map((v) => one('limit', v)),
      ...[',', 'orderCreated', 'OrderCreated,,OrderShipped', '__proto__', 'x'.repeat(2001)].map((v) =>
        one('types', v),
      ),
      both(['limit', '5'], ['limit', '6']),
      both(['types', 'OrderCreated'], ['types', 'OrderShipped']),
    ];
  }
  if (route.name === 'getOverview') {
    return [
      ...generic,
      ...['0', '181', '-5', 'x', '1e2', '__proto__'].map((v) => one('minutes', v)),
      both(['minutes', '5'], ['minutes', '6']),
    ];
  }
  if (route.name === 'getFunnelDropOffs') {
    // A valid step with one defect elsewhere, and a step out of range for the default six steps.
    return [
      ...generic.map((q) => [['step', '2'], ...q] as [string, string][]),
      ...['0', '7', '21', 'x', '2.5', '__proto__'].map((v) => one('step', v)),
      both(['step', '1'], ['step', '2']),
      both(['step', '3'], ['steps', 'OrderCreated,OrderSubmitted']),
      both(['step', '1'], ['limit', '1001']),
      both(['step', '1'], ['countBy', 'Customers']),
    ];
  }
  if (route.name === 'getOrderEvents') {
    const token = (json: string) => b64url(json);
    return [
      ...generic,
      ...['0', '1001', '-1', 'abc', '1e1', ' 5', '5.5', '0x10', '99999999999', '١٠'].map((v) =>
        one('limit', v),
      ),
      ...[
        'junk',
        'x'.repeat(201),
        token('{"v":0}'),
        token('{"v":-3}'),
        token('{"v":1.5}'),
        token('{"v":"5"}'),
        token('{"v":1e300}'),
        token('{"v":5,"o":"x"}'),
        token('{"__proto__":{"v":5}}'),
        token('{"constructor":{"v":5}}'),
        token('[5]'),
        token('null'),
        token('5'),
      ].map((v) => one('continuationToken', v)),
      both(['limit', '5'], ['limit', '6']),
      both(['continuationToken', token('{"v":1}')], ['continuationToken', token('{"v":2}')]),
      both(['__proto__', 'x'], ['limit', '5']),
    ];
  }
  if (route.name === 'listOrders') {
    const token = (json: string) => b64url(json);
    return [
      ...generic,
      ...['0', '1001', '-1', 'abc', '1e1', ' 5', '5.5', '0x10', '99999999999', '١٠'].map((v) =>
        one('limit', v),
      ),
      ...['open', 'ACCEPTED', 'Draft', '__proto__', 'constructor', 'draft,submitted'].map((v) =>
        one('status', v),
      ),
      ...['a b', 'x'.repeat(129), '...', 'é'].map((v) => one('customerId', v)),
      ...[
        'junk',
        'x'.repeat(2001),
        token('{"__proto__":{"c":"2020-01-01T00:00:00Z","o":"x"}}'),
        token('{"constructor":{"c":"2020-01-01T00:00:00Z","o":"x"}}'),
        token('{"c":"not a date","o":"x"}'),
        token('{"c":"2020-01-01T00:00:00Z","o":"a b"}'),
        token('[1,2]'),
        token('null'),
      ].map((v) => one('continuationToken', v)),
      both(['limit', '5'], ['limit', '6']),
      both(['status', 'draft'], ['status', 'accepted']),
      both(['__proto__', 'x'], ['limit', '5']),
    ];
  }
  return generic;
}

const badQuery: Defect = (route, role, access) =>
  !signedInAccess(access)
    ? undefined
    : fc
        .record({
          query: fc.constantFrom(...badQueries(route)),
          orderId: fc.constantFrom(...anyCanary),
          n: fc.nat(),
        })
        .map(({ query, orderId, n }) => {
          const req = base('bad query parameter', route, role, orderId, n);
          const search = new URLSearchParams(query).toString();
          return { ...req, path: `${req.path}?${search}`, note: search.slice(0, 60), expect: 400 };
        });

interface BodyMutation {
  note: string;
  expect: number;
  apply(valid: Record<string, unknown>): {
    body?: string | Uint8Array;
    headers?: Record<string, string>;
    noContentType?: boolean;
  };
}
/** Each route's required fields and one wrong value of each field. */
const bodyFields: Record<string, { required: string[]; wrong: Record<string, unknown[]> }> = {
  createOrder: {
    required: [],
    wrong: {
      orderId: [1, true, null, [], {}, '', 'a b', 'x'.repeat(129), '...', 'x'.repeat(200_000)],
      customerId: [1, null, 'a/b', 'é', 'x'.repeat(129)],
      referralCode: [7, false, '', 'a b'],
    },
  },
  addOrderItem: {
    required: ['productId', 'quantity', 'unitPrice', 'currency'],
    wrong: {
      productId: [1, null, '', 'a/b', 'x'.repeat(129), 'x'.repeat(300_000), '...'],
      quantity: [0, -1, 1.5, 1_000_001, '1', null, true, [], 1e308],
      unitPrice: [10, '-1.00', '1e3', '01.00', '1.0000001', '', 'NaN', '12345678901234567', null],
      currency: ['XYZ', 'brl', '', 1, '__proto__', 'constructor', 'toString', 'hasOwnProperty', null],
      sellerId: [1, '', 'a b', null],
    },
  },
  cancelOrder: {
    required: ['reason'],
    wrong: { reason: ['', '   ', 1, null, [], {}, 'a\u0000b', 'bad \u0007 bell', '\ud800'] },
  },
  approveOrder: {
    required: ['approved'],
    wrong: {
      approved: ['true', 1, 0, null, 'yes', []],
      comment: [1, [], 'x'.repeat(1001), 'a\u0000b'],
    },
  },
};
const extraKeys = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'approver',
  'actor',
  'status',
  'version',
  'x',
];

function bodyMutations(route: RouteSpec, role: Role): BodyMutation[] {
  const spec = bodyFields[route.name];
  const json = (value: unknown) => () => ({ body: JSON.stringify(value) });
  const text = (body: string) => () => ({ body });
  const out: BodyMutation[] = [
    ...[
      '{',
      '{"a":',
      'nul',
      '[1,',
      '{"productId": "p-1",}',
      "{'a':1}",
      '\u0000{}',
      'NaN',
      '{"a":1}{"b":2}',
    ].map((t) => ({ note: `invalid JSON ${JSON.stringify(t)}`, expect: 400, apply: text(t) })),
    ...['[]', '1', '"x"', 'null', 'true', '[{}]'].map((t) => ({
      note: `JSON ${t}, not an object`,
      expect: 400,
      apply: text(t),
    })),
    { note: 'empty body', expect: 400, apply: text('') },
    {
      note: 'invalid UTF-8',
      expect: 400,
      apply: () => ({ body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]) }),
    },
    ...[
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json; charset=iso-8859-1',
      'application/json; charset=utf-16',
      'application/jsonp',
      'application/json, text/plain',
      '',
    ].map((type) => ({
      note: `content-type ${JSON.stringify(type)}`,
      expect: 415,
      apply: (v: Record<string, unknown>) => ({ body: JSON.stringify(v), headers: { 'content-type': type } }),
    })),
    {
      note: 'content-encoding gzip',
      expect: 415,
      apply: (v) => ({ body: JSON.stringify(v), headers: { 'content-encoding': 'gzip' } }),
    },
    {
      note: 'no content-type',
      expect: 415,
      apply: (v) => ({ body: JSON.stringify(v), noContentType: true }),
    },
    {
      note: 'body over 1 MB',
      expect: 413,
      apply: (v) => ({ body: JSON.stringify({ ...v, padding: 'x'.repeat(1_100_000) }) }),
    },
    ...spec.required.map((field) => ({
      note: `missing ${field}`,
      expect: 400,
      apply: (v: Record<string, unknown>) =>
        json(Object.fromEntries(Object.entries(v).filter(([k]) => k !== field)))(),
    })),
    ...Object.entries(spec.wrong).flatMap(([field, values]) =>
      values.map((value) => ({
        note: `${field}=${JSON.stringify(value)?.slice(0, 40)}`,
        expect: 400,
        apply: (v: Record<string, unknown>) => json({ ...v, [field]: value })(),
      })),
    ),
    ...extraKeys.map((key) => ({
      note: `extra key ${key}`,
      expect: 400,
      // Written as text: `{"__proto__": …}` must reach the server as a key, as an attacker sends it.
      apply: (v: Record<string, unknown>) =>
        text(`{${JSON.stringify(key)}:{"x":1},${JSON.stringify(v).slice(1)}`)(),
    })),
  ];
  if (route.name === 'createOrder' && role === 'admin')
    out.push({
      note: 'admin without customerId',
      expect: 400,
      apply: () => ({ body: '{"orderId":"corpus-admin"}' }),
    });
  return out;
}

const badBody: Defect = (route, role, access) => {
  if (!route.body || !signedInAccess(access)) return undefined;
  const mutations = bodyMutations(route, role);
  return fc
    .record({ mutation: fc.constantFrom(...mutations), orderId: fc.constantFrom(...anyCanary), n: fc.nat() })
    .map(({ mutation, orderId, n }) => {
      const req = base('bad body', route, role, orderId, n);
      const applied = mutation.apply(validBody(route, role, n) ?? {});
      return {
        ...req,
        body: applied.body,
        headers: { ...req.headers, ...applied.headers },
        noContentType: applied.noContentType,
        note: mutation.note,
        expect: mutation.expect,
      };
    });
};

const malformedIfMatch = [
  '1',
  '"abc"',
  '"-1"',
  'W/1',
  '"1", "2"',
  '"01"',
  '"1',
  'W/"x"',
  '**',
  '"1234567890123456"',
  'w/"1"',
  '""',
];
const staleIfMatch = ['"0"', '"99"', 'W/"1000"', '"123456789012345"'];

const badIfMatch: Defect = (route, role, access) => {
  if (!route.ifMatch || (access !== 'owner' && access !== 'full')) return undefined;
  const mine = access === 'full' ? anyCanary : own(role);
  return fc
    .record({
      stale: fc.boolean(),
      pick: fc.nat(),
      orderId: fc.constantFrom(...anyCanary),
      mineId: mine.length ? fc.constantFrom(...mine) : fc.constant(undefined),
      n: fc.nat(),
    })
    .map(({ stale, pick, orderId, mineId, n }) => {
      const values = stale ? staleIfMatch : malformedIfMatch;
      const value = values[pick % values.length];
      // A stale version on an order the caller may change is 412; on one they may not, 404 comes first.
      const target = stale ? (mineId ?? orderId) : orderId;
      const req = base(stale ? 'stale If-Match' : 'malformed If-Match', route, role, target, n);
      req.headers['if-match'] = value;
      return { ...req, note: `${target} If-Match ${value}`, expect: stale ? (mineId ? 412 : 404) : 400 };
    });
};

const badKeys = ['', ' ', 'a b', 'x'.repeat(256), 'clé', 'a\tb', 'ÿ', 'key\u00a0x'];
const badIdempotencyKey: Defect = (route, role, access) =>
  !route.idempotencyKey || !signedInAccess(access)
    ? undefined
    : fc
        .record({ key: fc.constantFrom(...badKeys), orderId: fc.constantFrom(...anyCanary), n: fc.nat() })
        .map(({ key, orderId, n }) => {
          const req = base('bad Idempotency-Key', route, role, orderId, n);
          req.headers['idempotency-key'] = key;
          return { ...req, note: JSON.stringify(key.slice(0, 20)), expect: 400 };
        });

const wrongMethod: Defect = (route, role) => {
  const served = methodsOf(route.route) as string[];
  const others = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH'].filter((m) => !served.includes(m));
  return fc
    .record({
      method: fc.constantFrom(...others),
      orderId: fc.constantFrom(...anyCanary),
      n: fc.nat(),
      token: fc.nat(),
    })
    .map(({ method, orderId, n, token }) => {
      const req = base('wrong method', route, role, orderId, n);
      const body = method === 'GET' || method === 'DELETE' ? undefined : (req.body ?? '{}');
      return {
        ...req,
        method,
        body,
        ...(role === 'badToken' ? { badToken: token } : {}),
        note: method,
        expect: 405,
      };
    });
};

const foreignOrigins = [
  'https://evil.example',
  'null',
  'http://127.0.0.1.evil.example',
  'https://shop.example.evil',
  'file://',
];
const crossSite: Defect = (route, role, access) =>
  route.method === 'GET' || !signedInAccess(access)
    ? undefined
    : fc
        .record({
          origin: fc.constantFrom(...foreignOrigins),
          orderId: fc.constantFrom(...anyCanary),
          n: fc.nat(),
        })
        .map(({ origin, orderId, n }) => {
          const req = base('cross-site write', route, role, orderId, n);
          req.headers.origin = origin;
          return { ...req, note: origin, expect: 403 };
        });

/** Commands the canaries' states (or other data) refuse, for a caller who may otherwise send them. */
interface StateCase {
  route: string;
  role: Role;
  orderId: string;
  body?: unknown;
  query?: string;
  productId?: string;
  expect: number;
  note: string;
}
const { A1, A2, B1, B2, C1 } = canaries;
const line = { productId: 'p-7', quantity: 1, unitPrice: '10.00', currency: 'BRL' };
/** A command refused by the order's state or data: route, role, order, status, why, and what it sends. */
const refused = (
  route: string,
  role: Role,
  orderId: string,
  expect: number,
  note: string,
  sends: Pick<StateCase, 'body' | 'query' | 'productId'> = {},
): StateCase => ({ route, role, orderId, expect, note, ...sends });
const before2000 = { query: 'asOf=2000-01-01T00:00:00Z' };
const stateCases: StateCase[] = [
  // customer A: A1 draft (BRL, p-1 at 10.00 x2, p-2), A2 accepted
  refused('addOrderItem', 'customerA', A2.id, 409, 'add to accepted', { body: line }),
  refused('removeOrderItem', 'customerA', A2.id, 409, 'remove from accepted', { productId: 'p-3' }),
  refused('removeOrderItem', 'customerA', A2.id, 409, 'remove absent from accepted', {
    productId: 'constructor',
  }),
  refused('submitOrder', 'customerA', A2.id, 409, 'submit accepted'),
  refused('addOrderItem', 'customerA', A1.id, 422, 'second currency', { body: { ...line, currency: 'USD' } }),
  refused('addOrderItem', 'customerA', A1.id, 422, 'other price', {
    body: { ...line, productId: 'p-1', unitPrice: '11.00' },
  }),
  refused('addOrderItem', 'customerA', A1.id, 422, 'line over 1,000,000 units', {
    body: { ...line, productId: 'p-1', quantity: 999_999 },
  }),
  refused('addOrderItem', 'customerA', A1.id, 422, 'total over 10^15', {
    body: { ...line, unitPrice: '9999999999999999' },
  }),
  refused('createOrder', 'customerA', '', 409, 'recreate with other data', {
    body: { orderId: A1.id, referralCode: 'ref-1' },
  }),
  refused('createOrder', 'customerA', '', 409, "take another's orderId", { body: { orderId: B1.id } }),
  refused('getOrder', 'customerA', A1.id, 404, 'before it existed', before2000),
  refused('getOrderAcceptance', 'customerA', A1.id, 404, 'never submitted'),
  // customer B: B1 draft, B2 cancelled
  refused('submitOrder', 'customerB', B2.id, 409, 'submit cancelled'),
  refused('addOrderItem', 'customerB', B2.id, 409, 'add to cancelled', { body: line }),
  refused('removeOrderItem', 'customerB', B2.id, 409, 'remove from cancelled', { productId: 'p-4' }),
  refused('createOrder', 'customerB', '', 409, "take another's orderId", { body: { orderId: A2.id } }),
  refused('createOrder', 'customerB', '', 409, 'recreate with other data', {
    body: { orderId: B1.id, customerId: 'customer-b', referralCode: 'r' },
  }),
  refused('getOrderAcceptance', 'customerB', B2.id, 404, 'never submitted'),
  refused('getOrder', 'customerB', B1.id, 404, 'before it existed', {
    query: 'asOf=2000-01-01T00:00:00%2B02:00',
  }),
  // the approver: owns C1 (submitted, awaiting approval)
  refused('addOrderItem', 'approver', C1.id, 409, 'add to submitted', { body: line }),
  refused('removeOrderItem', 'approver', C1.id, 409, 'remove from submitted', { productId: 'p-9' }),
  refused('approveOrder', 'approver', C1.id, 403, 'own order', { body: { approved: true } }),
  refused('approveOrder', 'approver', C1.id, 403, 'own order', { body: { approved: false, comment: 'no' } }),
  refused('approveOrder', 'approver', A2.id, 409, 'accepted', { body: { approved: true } }),
  refused('approveOrder', 'approver', B2.id, 409, 'cancelled', { body: { approved: false } }),
  refused('approveOrder', 'approver', A1.id, 404, 'draft', { body: { approved: true } }),
  refused('approveOrder', 'approver', B1.id, 404, 'draft', { body: { approved: true } }),
  refused('createOrder', 'approver', '', 409, 'recreate with other data', {
    body: { orderId: C1.id, referralCode: 'r' },
  }),
  refused('getOrder', 'approver', C1.id, 404, 'before it existed', { query: 'asOf=1999-12-31T23:59:59Z' }),
  // the admin
  refused('addOrderItem', 'admin', A2.id, 409, 'add to accepted', { body: line }),
  refused('submitOrder', 'admin', A2.id, 409, 'submit accepted'),
  refused('submitOrder', 'admin', B2.id, 409, 'submit cancelled'),
  refused('removeOrderItem', 'admin', B2.id, 409, 'remove from cancelled', { productId: 'p-4' }),
  refused('addOrderItem', 'admin', B1.id, 422, 'second currency', {
    body: { ...line, currency: 'JPY', unitPrice: '10' },
  }),
  refused('createOrder', 'admin', '', 409, 'recreate for another customer', {
    body: { orderId: A1.id, customerId: 'customer-b' },
  }),
  refused('getOrder', 'admin', A2.id, 404, 'before it existed', before2000),
  refused('getOrderAcceptance', 'admin', B1.id, 404, 'never submitted'),
  // readers and the other identities
  refused('getOrder', 'reader', B2.id, 404, 'before it existed', before2000),
  refused('getOrderAcceptance', 'reader', A1.id, 404, 'never submitted'),
  refused('createOrder', 'reader', '', 409, "take another's orderId", { body: { orderId: A1.id } }),
  refused('getOrder', 'staff', C1.id, 404, 'before it existed', before2000),
  refused('getOrderAcceptance', 'staff', B2.id, 404, 'never submitted'),
  refused('createOrder', 'protoCustomer', '', 409, "take another's orderId", { body: { orderId: B2.id } }),
];

const stateConflict: Defect = (route, role) => {
  const cases = stateCases.filter((c) => c.route === route.name && c.role === role);
  if (!cases.length) return undefined;
  return fc.record({ c: fc.constantFrom(...cases), n: fc.nat() }).map(({ c, n }) => {
    const params = {
      ...validParams(c.orderId || anyCanary[0]),
      ...(c.productId ? { productId: c.productId } : {}),
    };
    const req = base('refused by the order state', route, role, c.orderId, n, params);
    return {
      ...req,
      path: c.query ? `${req.path}?${c.query}` : req.path,
      body: c.body === undefined ? req.body : JSON.stringify(c.body),
      note: `${c.orderId} ${c.note}`,
      expect: c.expect,
    };
  });
};

/** Every kind of defect, with its weight when several apply to a route and role (bodies vary the most). */
const defects: [Defect, number][] = [
  [unauthenticated, 3],
  [forbidden, 3],
  [notOwner, 3],
  [createForOther, 2],
  [noSuchThing, 2],
  [badPath, 2],
  [badQuery, 2],
  [badBody, 15],
  [badIfMatch, 2],
  [badIdempotencyKey, 2],
  [wrongMethod, 1],
  [crossSite, 1],
  [stateConflict, 3],
];

/** The corpus: for each route and role, requests drawn from every defect that applies to the pair. */
function corpus(): Req[] {
  const out: Req[] = [];
  let pair = 0;
  for (const route of allRoutes) {
    for (const role of [...tableRoles, ...extraRoles]) {
      const access = accessOf(route, role);
      const applicable = defects.flatMap(([defect, weight]) => {
        const arbitrary = defect(route, role, access);
        return arbitrary ? [{ arbitrary, weight }] : [];
      });
      const arb = fc.tuple(fc.oneof(...applicable), noiseArb).map(([req, noise]) => ({
        ...req,
        note: req.note + noise.note,
        headers: { ...noise.headers, ...req.headers },
      }));
      const runs = (tableRoles as readonly string[]).includes(role) ? perPair : perExtraPair;
      out.push(...fc.sample(arb, { seed: seed + pair++, numRuns: runs }));
    }
  }
  return out;
}

let host: TestHost;
const tokens = {} as Record<SignedIn, string>;
let badTokens: string[] = [];

function authorizationOf(req: Req): string {
  if (req.role === 'anonymous') return '';
  if (req.role === 'badToken') return badTokens[(req.badToken ?? 0) % badTokens.length];
  return `Bearer ${tokens[req.role]}`;
}

interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function send(req: Req): Promise<Answer> {
  const authorization = authorizationOf(req);
  if (!req.noContentType)
    return call(host, req.method, req.path, req.body, { ...req.headers, authorization });
  // `call` names a JSON content type for every body; this one must have none.
  const res = await fetch(host.baseUrl + req.path, {
    method: req.method,
    headers: { ...req.headers, ...(authorization ? { authorization } : {}) },
    body: typeof req.body === 'string' ? new Uint8Array(Buffer.from(req.body)) : req.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the check below reports it
  }
  return { status: res.status, headers: res.headers, body };
}

/** What is wrong with the answer to a corpus request, if anything. */
function verdict(req: Req, res: Answer): string | undefined {
  if (res.status >= 500) return `${res.status}: a server error`;
  if (res.status < 400) return `${res.status}: a request built to be refused was not`;
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/problem+json')) return `${res.status} with content-type ${type}`;
  if (typeof res.body !== 'object' || res.body === null) return `${res.status} without a JSON body`;
  if (res.body.status !== res.status) return `${res.status} whose problem says status ${res.body.status}`;
  if (typeof res.body.title !== 'string' || res.body.title === '') return `${res.status} without a title`;
  if (req.expect !== undefined && res.status !== req.expect)
    return `${res.status}, expected ${req.expect} (${res.body.detail})`;
  if (res.status === 401 && !/^Bearer/.test(res.headers.get('www-authenticate') ?? ''))
    return '401 without WWW-Authenticate: Bearer';
  return undefined;
}

async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}

/** Everything support can read of the canaries, as the bytes the API answers, and the order list. */
async function snapshot(): Promise<Record<string, string>> {
  const read = async (path: string) => {
    const res = await fetch(host.baseUrl + path, { headers: { authorization: host.supportAuthorization } });
    return `${res.status} etag=${res.headers.get('etag')}\n${await res.text()}`;
  };
  const out: Record<string, string> = {};
  for (const c of allCanaries) {
    out[`${c.id} order`] = await read(`/api/orders/${c.id}`);
    out[`${c.id} events`] = await read(`/api/orders/${c.id}/events`);
    out[`${c.id} notifications`] = await read(`/api/orders/${c.id}/notifications`);
  }
  out.list = await read('/api/orders?limit=1000');
  return out;
}
let before: Record<string, string>;

async function createCanaries(): Promise<void> {
  // Every canary command carries a forged principal naming someone else: it must not become the actor.
  const as = (who: SignedIn) => ({ ...forgedHeaders[1], ...authAs(tokens[who]) });
  const ok = async (res: Promise<Answer>, status: number) => {
    const r = await res;
    expect(r.status, JSON.stringify(r.body)).toBe(status);
  };
  const item = (productId: string, quantity: number, unitPrice: string) => ({
    productId,
    quantity,
    unitPrice,
    currency: 'BRL',
  });
  for (const c of allCanaries)
    await ok(call(host, 'POST', '/api/orders', { orderId: c.id }, as(c.owner)), 201);
  await ok(call(host, 'POST', `/api/orders/${A1.id}/items`, item('p-1', 2, '10.00'), as('customerA')), 200);
  await ok(call(host, 'POST', `/api/orders/${A1.id}/items`, item('p-2', 1, '5.50'), as('customerA')), 200);
  await ok(call(host, 'POST', `/api/orders/${A2.id}/items`, item('p-3', 1, '20.00'), as('customerA')), 200);
  await ok(call(host, 'POST', `/api/orders/${A2.id}/submit`, undefined, as('customerA')), 202);
  await ok(call(host, 'POST', `/api/orders/${B1.id}/items`, item('p-1', 1, '10.00'), as('customerB')), 200);
  await ok(call(host, 'POST', `/api/orders/${B2.id}/items`, item('p-4', 3, '1.00'), as('customerB')), 200);
  await ok(call(host, 'POST', `/api/orders/${B2.id}/cancel`, { reason: 'canary' }, as('customerB')), 200);
  // Above APPROVAL_THRESHOLD (1000.00): it waits for an approver, for a day.
  await ok(call(host, 'POST', `/api/orders/${C1.id}/items`, item('p-9', 1, '5000.00'), as('approver')), 200);
  await ok(call(host, 'POST', `/api/orders/${C1.id}/submit`, undefined, as('approver')), 202);

  // Settled: A2 accepted and notified, B2's cancellation notified, C1 awaiting approval, the list caught up.
  await eventually(async () => {
    const res = await call(host, 'GET', `/api/orders/${A2.id}/notifications`);
    return res.body?.notifications?.some((n: { kind: string }) => n.kind === 'order-accepted')
      ? true
      : undefined;
  });
  await eventually(async () => {
    const res = await call(host, 'GET', `/api/orders/${B2.id}/notifications`);
    return res.body?.notifications?.some((n: { kind: string }) => n.kind === 'order-cancelled')
      ? true
      : undefined;
  });
  await eventually(async () => {
    const res = await call(host, 'GET', `/api/orders/${C1.id}/acceptance`);
    return res.body?.step === 'awaiting-approval' ? true : undefined;
  });
  const versions = new Map<string, number>();
  for (const c of allCanaries)
    versions.set(c.id, (await call(host, 'GET', `/api/orders/${c.id}`)).body.version);
  await eventually(async () => {
    const res = await call(host, 'GET', '/api/orders?limit=1000');
    const items: { orderId: string; version: number }[] = res.body?.items ?? [];
    return items.length === versions.size && items.every((o) => versions.get(o.orderId) === o.version)
      ? true
      : undefined;
  });
  for (const c of allCanaries) {
    const { events } = (await call(host, 'GET', `/api/orders/${c.id}/events`)).body;
    const actors = events.filter(
      (e: { type: string }) => !e.type.startsWith('Stock') && e.type !== 'OrderAccepted',
    );
    expect(new Set(actors.map((e: { metadata: { actor: string } }) => e.metadata.actor))).toEqual(
      new Set([`user:${principals[c.owner].sub}`]),
    );
  }
  const statuses = await Promise.all(
    allCanaries.map(async (c) => (await call(host, 'GET', `/api/orders/${c.id}`)).body.status),
  );
  expect(statuses).toEqual(['draft', 'accepted', 'draft', 'cancelled', 'submitted']);
}

beforeAll(async () => {
  host = await startTestHost();
  for (const [role, p] of Object.entries(principals) as [SignedIn, { sub: string; roles: string[] }][])
    tokens[role] = await host.token({ sub: p.sub, roles: p.roles });
  const key = devSignInKey(host.dataDir);
  const otherKey = devSignInKey(mkdtempSync(join(tmpdir(), 'corpus-other-key-')));
  const [h, , s] = tokens.customerA.split('.');
  const adminClaims = b64url(
    JSON.stringify({
      sub: 'admin-1',
      roles: ['orders.admin'],
      iss: 'order-events/dev-signin',
      aud: 'order-events',
      exp: 4102444800,
    }),
  );
  badTokens = [
    'Bearer not-a-jwt',
    `Bearer ${await signDevToken(key, { sub: 'customer-a', roles: [] }, 60, Math.floor(Date.now() / 1000) - 3600)}`,
    `Bearer ${await signDevToken(otherKey, { sub: 'admin-1', roles: ['orders.admin'] })}`,
    `Bearer ${h}.${adminClaims}.${s}`,
    `Bearer ${b64url('{"alg":"none","typ":"JWT"}')}.${adminClaims}.`,
    `Bearer ${await signDevToken(key, { sub: '', roles: ['orders.admin'] })}`,
    `Bearer ${await signDevToken(key, { sub: 'admin\u0000-1', roles: ['orders.admin'] })}`,
    'Basic YWRtaW46YWRtaW4=',
    'Bearer',
    `Bearer ${tokens.admin} extra`,
    tokens.admin,
  ];
  await createCanaries();
  before = await snapshot();
});
afterAll(async () => {
  await host?.stop();
});

describe('the hostile corpus', () => {
  it('refuses over 2,000 generated bad requests on every route and role with problem details, and changes no order', async () => {
    const requests = corpus();
    expect(requests.length).toBeGreaterThanOrEqual(2000);
    // Every route of the API, with each role of the role table, and every kind of defect.
    for (const route of allRoutes)
      for (const role of tableRoles)
        expect(
          requests.some((r) => r.route === route.name && r.role === role),
          `${route.name} as ${role}`,
        ).toBe(true);
    expect(new Set(requests.map((r) => r.defect))).toEqual(
      new Set([
        'unauthenticated',
        'wrong role',
        "another customer's order",
        'order for another customer',
        'no such order',
        'no such product',
        'no such schema',
        'bad path parameter',
        'bad query parameter',
        'bad body',
        'malformed If-Match',
        'stale If-Match',
        'bad Idempotency-Key',
        'wrong method',
        'cross-site write',
        'refused by the order state',
      ]),
    );
    expect(requests.some((r) => r.note.includes('forged principal'))).toBe(true);

    const started = Date.now();
    const answers = await pool(requests, concurrency, send);
    const seconds = (Date.now() - started) / 1000;

    const byStatus = new Map<number, number>();
    const byDefect = new Map<string, number>();
    const failures: string[] = [];
    answers.forEach((res, i) => {
      const req = requests[i];
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      byDefect.set(req.defect, (byDefect.get(req.defect) ?? 0) + 1);
      const wrong = verdict(req, res);
      if (wrong)
        failures.push(
          `${req.role} ${req.method} ${req.path.slice(0, 120)} [${req.defect}: ${req.note}] → ${wrong}`,
        );
    });
    console.log(
      `hostile corpus: ${requests.length} requests in ${seconds.toFixed(1)} s, ${concurrency} in flight\n` +
        `  by status: ${[...byStatus]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(', ')}\n` +
        `  by defect: ${[...byDefect].map(([d, n]) => `${d}×${n}`).join(', ')}`,
    );
    expect(failures.slice(0, 30), `${failures.length} failures`).toEqual([]);

    // Nothing changed: every canary reads back byte for byte, and the list still holds exactly the canaries.
    const after = await snapshot();
    expect(after).toEqual(before);
    const list = await call(host, 'GET', '/api/orders?limit=1000');
    expect(list.body.items.map((o: { orderId: string }) => o.orderId).sort()).toEqual(
      allCanaries.map((c) => c.id).sort(),
    );
    expect(list.body.continuationToken).toBeUndefined();
  });
});

describe('user-supplied names are data, never object keys', () => {
  it('a query parameter named __proto__, constructor or toString is refused as an unknown parameter (400)', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      for (const path of [`/api/orders/${A1.id}`, '/api/health', '/api/orders']) {
        const res = await call(host, 'GET', `${path}?${name}=1`);
        expect(res.status, `${path}?${name}=1`).toBe(400);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(`query.${name}`);
      }
    }
    const twice = await call(host, 'GET', `/api/orders/${A1.id}?__proto__=1&__proto__=2`);
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toContainEqual({ field: 'query.__proto__', message: 'given more than once' });
    // An empty value is an unset parameter, whatever its name.
    expect((await call(host, 'GET', `/api/orders/${A1.id}?__proto__=`)).status).toBe(200);
  });

  it('headers named __proto__, constructor or hasOwnProperty change nothing: same answer, no access granted', async () => {
    const hostile: [string, string][] = [
      ['__proto__', '{"roles":["orders.admin"]}'],
      ['constructor', 'x'],
      ['hasOwnProperty', 'x'],
      ['toString', 'x'],
      ['valueOf', 'x'],
      ['prototype', 'x'],
    ];
    const get = async (path: string, extra: [string, string][]) => {
      const res = await fetch(host.baseUrl + path, {
        headers: new Headers([['authorization', `Bearer ${tokens.customerA}`], ...extra]),
      });
      return {
        status: res.status,
        etag: res.headers.get('etag'),
        type: res.headers.get('content-type'),
        body: await res.text(),
      };
    };
    const plain = await get(`/api/orders/${A1.id}`, []);
    expect(plain.status).toBe(200);
    expect(await get(`/api/orders/${A1.id}`, hostile)).toEqual(plain);
    const stock = await get('/api/stock/p-1', hostile);
    expect(stock.status).toBe(403);
    expect(stock.type).toBe('application/problem+json');
    expect((await get(`/api/orders/${B1.id}`, hostile)).status).toBe(404);
  });
});
