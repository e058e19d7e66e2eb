import { describe, expect, it } from 'vitest';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  actorOf,
  authenticate,
  authorize,
  AuthEnvironment,
  Authentication,
  bearerToken,
  Identity,
  parseClientPrincipal,
  platformSetsPrincipal,
} from '../../src/http/identity';
import { devSignInKey, signDevToken, verifyDevToken } from '../../src/adapters/devSignIn';
import { readSettings } from '../../src/config/settings';

const headers =
  (h: Record<string, string>) =>
  (name: string): string | null =>
    h[name.toLowerCase()] ?? null;

const roleTyp = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const principal = (claims: { typ: string; val: string }[], extra: object = {}) =>
  Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      claims,
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
      role_typ: roleTyp,
      ...extra,
    }),
  ).toString('base64');

const onAzure: AuthEnvironment = { mode: 'appservice', siteName: 'orders-prod', authEnabled: 'True' };
const local: AuthEnvironment = { mode: 'development' };
const noToken = async () => {
  throw new Error('no token expected');
};

describe('App Service principal (x-ms-client-principal)', () => {
  it('reads the id, the name and the app roles, ignoring roles the app does not define', () => {
    const id = parseClientPrincipal(
      headers({
        'x-ms-client-principal': principal([
          { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-1' },
          {
            typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
            val: 'ana@contoso.com',
          },
          { typ: roleTyp, val: 'orders.approve' },
          { typ: 'roles', val: 'orders.read' },
          { typ: roleTyp, val: 'Global.Admin' },
        ]),
      }),
    );
    expect(id).toEqual({
      id: 'oid-1',
      name: 'ana@contoso.com',
      roles: ['orders.approve', 'orders.read'],
      via: 'appservice',
    });
  });

  it('prefers x-ms-client-principal-id and -name, set by the platform', () => {
    const id = parseClientPrincipal(
      headers({
        'x-ms-client-principal': principal([]),
        'x-ms-client-principal-id': 'b2c6c1d0-0000-4000-8000-000000000001',
        'x-ms-client-principal-name': 'bob@contoso.com',
      }),
    ) as Identity;
    expect(id).toMatchObject({
      id: 'b2c6c1d0-0000-4000-8000-000000000001',
      name: 'bob@contoso.com',
      roles: [],
    });
  });

  it('calls a malformed principal invalid (not base64 JSON, no claims, no id)', () => {
    expect(parseClientPrincipal(headers({ 'x-ms-client-principal': '%%%not-base64' }))).toBe('invalid');
    expect(
      parseClientPrincipal(headers({ 'x-ms-client-principal': Buffer.from('{"a":1}').toString('base64') })),
    ).toBe('invalid');
    expect(parseClientPrincipal(headers({ 'x-ms-client-principal': principal([]) }))).toBe('invalid');
    expect(parseClientPrincipal(headers({}))).toBeUndefined();
  });

  it('trusts the principal headers only on Azure with App Service Authentication on', () => {
    expect(platformSetsPrincipal(onAzure)).toBe(true);
    expect(platformSetsPrincipal({ ...onAzure, authEnabled: 'False' })).toBe(false);
    expect(platformSetsPrincipal({ ...onAzure, authEnabled: undefined })).toBe(false);
    expect(platformSetsPrincipal({ mode: 'appservice', authEnabled: 'True' })).toBe(false);
    expect(platformSetsPrincipal({ ...onAzure, mode: 'development' })).toBe(false);
  });
});

describe('authenticate', () => {
  const forged = {
    'x-ms-client-principal': principal([{ typ: roleTyp, val: 'orders.admin' }]),
    'x-ms-client-principal-id': 'cfo',
    'x-ms-client-principal-name': 'cfo@contoso.com',
  };

  it('a forged x-ms-client-principal header locally is ignored', async () => {
    expect(await authenticate(headers(forged), local, noToken)).toEqual({ kind: 'anonymous' });
  });

  it('on Azure without App Service Authentication the principal headers are ignored', async () => {
    const env = { ...onAzure, authEnabled: undefined };
    expect(await authenticate(headers(forged), env, noToken)).toEqual({ kind: 'anonymous' });
  });

  it('on Azure with App Service Authentication the principal is the identity, and a bearer token is not read', async () => {
    const a = await authenticate(headers({ ...forged, authorization: 'Bearer x.y.z' }), onAzure, noToken);
    expect(a).toEqual({
      kind: 'identity',
      identity: { id: 'cfo', name: 'cfo@contoso.com', roles: ['orders.admin'], via: 'appservice' },
    });
  });

  it('locally a bearer token is checked; a refused one is invalid (401), never anonymous', async () => {
    const ok = await authenticate(headers({ authorization: 'Bearer a.b.c' }), local, async () => ({
      sub: 'customer-42',
      roles: ['orders.read', 'not-a-role'],
    }));
    expect(ok).toEqual({
      kind: 'identity',
      identity: { id: 'customer-42', name: 'customer-42', roles: ['orders.read'], via: 'development' },
    });
    const bad = await authenticate(headers({ authorization: 'Bearer a.b.c' }), local, async () => {
      throw new Error('the token has expired');
    });
    expect(bad).toEqual({ kind: 'invalid', detail: 'the token has expired' });
    expect(
      await authenticate(headers({ authorization: 'Basic dXNlcjpwdw==' }), local, noToken),
    ).toMatchObject({
      kind: 'invalid',
    });
  });

  it('reads the bearer scheme case-insensitively', () => {
    expect(bearerToken('bearer abc.def.ghi')).toEqual({ kind: 'token', token: 'abc.def.ghi' });
    expect(bearerToken(null)).toEqual({ kind: 'none' });
    expect(bearerToken('Bearer')).toEqual({ kind: 'malformed' });
  });
});

describe('the role table (authorize)', () => {
  const who = (id: string, ...roles: Identity['roles']): Authentication => ({
    kind: 'identity',
    identity: { id, name: id, roles, via: 'development' },
  });
  const nobody: Authentication = { kind: 'anonymous' };
  const owner = { roles: ['orders.read' as const, 'orders.admin' as const], customer: 'owner' as const };

  it('anonymous: health and the OpenAPI document only', () => {
    expect(authorize('anonymous', nobody)).toMatchObject({ ok: true });
    expect(authorize('authenticated', nobody)).toMatchObject({ ok: false, status: 401 });
    expect(authorize(owner, nobody)).toMatchObject({ ok: false, status: 401 });
  });

  it('invalid credentials are 401 even on an anonymous route', () => {
    expect(authorize('anonymous', { kind: 'invalid', detail: 'x' })).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it('a customer (no role) acts on their own data only', () => {
    expect(authorize(owner, who('customer-42'))).toEqual({
      ok: true,
      access: {
        kind: 'customer',
        customerId: 'customer-42',
        identity: expect.objectContaining({ id: 'customer-42' }),
      },
    });
  });

  it('a role of the route gives access to every order', () => {
    expect(authorize(owner, who('bob', 'orders.read'))).toMatchObject({ ok: true, access: { kind: 'role' } });
  });

  it('orders.approve is the only way to approve: others get 403', () => {
    const approve = { roles: ['orders.approve' as const] };
    expect(authorize(approve, who('ana', 'orders.approve'))).toMatchObject({ ok: true });
    expect(authorize(approve, who('bob', 'orders.read', 'orders.admin'))).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(authorize(approve, who('customer-42'))).toMatchObject({ ok: false, status: 403 });
  });

  it('an id that cannot be a customerId cannot act as a customer (403)', () => {
    expect(authorize(owner, who('alice@example.com'))).toMatchObject({ ok: false, status: 403 });
  });

  it('the actor is the verified identity', () => {
    expect(actorOf({ id: 'ana', name: 'Ana', roles: [], via: 'development' })).toBe('user:ana');
    expect(actorOf(undefined)).toBe('anonymous');
  });
});

describe('development sign-in key and tokens', () => {
  it('creates the key once per data folder with mode 0600, and verifies only its own tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsignin-'));
    const key = devSignInKey(dir);
    expect(devSignInKey(dir)).toEqual(key);
    if (process.platform !== 'win32') expect(statSync(join(dir, 'dev-signin.key')).mode & 0o777).toBe(0o600);
    const token = await signDevToken(key, { sub: 'ana', roles: ['orders.approve'] });
    expect(await verifyDevToken(key, token)).toEqual({ sub: 'ana', roles: ['orders.approve'] });
    const otherKey = devSignInKey(mkdtempSync(join(tmpdir(), 'devsignin-')));
    await expect(verifyDevToken(otherKey, token)).rejects.toThrow(/signature/);
    const expired = await signDevToken(
      key,
      { sub: 'ana', roles: [] },
      60,
      Math.floor(Date.now() / 1000) - 3600,
    );
    await expect(verifyDevToken(key, expired)).rejects.toThrow(/expired/);
    const [h, p] = token.split('.');
    await expect(verifyDevToken(key, `${h}.${p}.`)).rejects.toThrow();
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    await expect(verifyDevToken(key, none)).rejects.toThrow();
  });

  it('AUTH_MODE=development is refused on Azure; appservice is the default there', () => {
    expect(() => readSettings({ AUTH_MODE: 'development', WEBSITE_SITE_NAME: 'orders-prod' })).toThrow(
      /AUTH_MODE/,
    );
    expect(readSettings({ WEBSITE_SITE_NAME: 'orders-prod' }).AUTH_MODE).toBeUndefined();
  });

  it('CORS_ALLOWED_ORIGINS takes origins only, none by default', () => {
    expect(readSettings({}).CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(
      readSettings({ CORS_ALLOWED_ORIGINS: 'https://shop.example, http://localhost:5173' })
        .CORS_ALLOWED_ORIGINS,
    ).toEqual(['https://shop.example', 'http://localhost:5173']);
    expect(() => readSettings({ CORS_ALLOWED_ORIGINS: 'https://shop.example/path' })).toThrow(
      /CORS_ALLOWED_ORIGINS/,
    );
  });
});
