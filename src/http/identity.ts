import { Id } from '../domain/ids';
import { AppRole, isAppRole } from '../shared/appRoles';

/**
 * Who the caller is, and what a route lets them do. Pure: the token check is passed in, so every rule
 * here is unit-tested (test/http/identity.spec.ts) and `endpoint()` (endpoint.ts) applies them in one place.
 */

/** A verified caller: an id (a customer's customerId), a display name, and the app roles they hold. */
export interface Identity {
  id: string;
  name: string;
  roles: AppRole[];
  via: 'appservice' | 'development';
}

export type Authentication =
  | { kind: 'anonymous' }
  | { kind: 'identity'; identity: Identity }
  /** Credentials were sent but are not valid: 401, never treated as anonymous. */
  | { kind: 'invalid'; detail: string };

/**
 * What a route requires (RouteSpec `auth`):
 * - `anonymous`: anyone;
 * - `authenticated`: any signed-in caller;
 * - `{ roles }`: a caller holding one of `roles`; with `customer: 'owner'` also a caller without them who owns
 *   the order named by the path's `orderId` (its customerId is their id); with `customer: 'self'` also any
 *   signed-in caller, who then acts as a customer on their own data (creating their orders, listing them).
 */
export type RouteAuth = 'anonymous' | 'authenticated' | { roles: AppRole[]; customer?: 'owner' | 'self' };

/** Where the App Service principal headers come from and whether they can be trusted. */
export interface AuthEnvironment {
  mode: 'appservice' | 'development';
  /** `WEBSITE_SITE_NAME`: set by the platform on Azure only. */
  siteName?: string;
  /** `WEBSITE_AUTH_ENABLED`: `True` when App Service Authentication is on. */
  authEnabled?: string;
}

/**
 * The `x-ms-client-principal*` headers are trusted only where the platform sets them: on Azure (App Service
 * sets `WEBSITE_SITE_NAME`) with App Service Authentication on (`WEBSITE_AUTH_ENABLED=True`), where the
 * platform removes any such header a client sent. Locally, and on Azure without it, anyone can send them.
 */
export const platformSetsPrincipal = (env: AuthEnvironment): boolean =>
  env.mode === 'appservice' && !!env.siteName && (env.authEnabled ?? '').toLowerCase() === 'true';

/** Claim types App Service uses for Entra ID app roles and the user's object id. */
export const roleClaimTypes = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const objectIdClaimTypes = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
const nameClaimTypes = [
  'name',
  'preferred_username',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
];

type HeaderGet = (name: string) => string | null;

const clean = (v: string | null | undefined, max = 256): string | undefined => {
  const t = v?.trim();
  // eslint-disable-next-line no-control-regex
  return t && t.length <= max && !/[\u0000-\u001f\u007f]/.test(t) ? t : undefined;
};

/**
 * Reads App Service Authentication's principal: `x-ms-client-principal` (base64 JSON
 * `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`) and `x-ms-client-principal-id`/`-name`. The id is
 * `x-ms-client-principal-id` (the Entra object id), else the object-id claim; the name
 * `x-ms-client-principal-name`, else the `name_typ` claim; the roles are the claims of type `role_typ`
 * (or `roles`) that name an app role (others are ignored).
 * @returns the identity, `undefined` when no principal header is present, or `invalid` when it is malformed
 */
export function parseClientPrincipal(get: HeaderGet): Identity | undefined | 'invalid' {
  const encoded = get('x-ms-client-principal');
  if (encoded === null) return undefined;
  let principal: unknown;
  try {
    principal = JSON.parse(Buffer.from(encoded.trim(), 'base64').toString('utf8'));
  } catch {
    return 'invalid';
  }
  if (
    typeof principal !== 'object' ||
    principal === null ||
    !Array.isArray((principal as { claims?: unknown }).claims)
  )
    return 'invalid';
  const p = principal as { claims: unknown[]; name_typ?: unknown; role_typ?: unknown };
  const claims = p.claims.filter(
    (c): c is { typ: string; val: string } =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as { typ?: unknown }).typ === 'string' &&
      typeof (c as { val?: unknown }).val === 'string',
  );
  const claim = (types: string[]) => claims.find((c) => types.includes(c.typ))?.val;
  const roleTypes = typeof p.role_typ === 'string' ? [p.role_typ, ...roleClaimTypes] : roleClaimTypes;
  const nameTypes = typeof p.name_typ === 'string' ? [p.name_typ, ...nameClaimTypes] : nameClaimTypes;
  const id = clean(get('x-ms-client-principal-id')) ?? clean(claim(objectIdClaimTypes));
  if (!id) return 'invalid';
  const name = clean(get('x-ms-client-principal-name')) ?? clean(claim(nameTypes)) ?? id;
  const roles = [...new Set(claims.filter((c) => roleTypes.includes(c.typ)).map((c) => c.val))].filter(
    isAppRole,
  );
  return { id, name, roles, via: 'appservice' };
}

/** The bearer token of an `Authorization` header: none, a token, or malformed (another scheme, or empty). */
export function bearerToken(
  authorization: string | null,
): { kind: 'none' } | { kind: 'token'; token: string } | { kind: 'malformed' } {
  if (authorization === null || authorization.trim() === '') return { kind: 'none' };
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization.trim());
  return m ? { kind: 'token', token: m[1] } : { kind: 'malformed' };
}

/** Checks a development token; throws (any error) when it is not valid, with a message fit for a 401. */
export type DevTokenCheck = (token: string) => Promise<{ sub: string; name?: string; roles: string[] }>;

/**
 * Authenticates a request. `appservice`: the principal headers when the platform sets them (see
 * `platformSetsPrincipal`), else nobody is signed in. `development`: a bearer token checked by
 * `checkDevToken`; the `x-ms-client-principal*` headers are ignored whatever they say.
 */
export async function authenticate(
  get: HeaderGet,
  env: AuthEnvironment,
  checkDevToken: DevTokenCheck,
): Promise<Authentication> {
  if (env.mode === 'appservice') {
    if (!platformSetsPrincipal(env)) return { kind: 'anonymous' };
    const principal = parseClientPrincipal(get);
    if (principal === 'invalid')
      return { kind: 'invalid', detail: 'the x-ms-client-principal header is malformed' };
    return principal ? { kind: 'identity', identity: principal } : { kind: 'anonymous' };
  }
  const bearer = bearerToken(get('authorization'));
  if (bearer.kind === 'none') return { kind: 'anonymous' };
  if (bearer.kind === 'malformed')
    return { kind: 'invalid', detail: 'Authorization must be "Bearer <token>" (get one with npm run token)' };
  try {
    const claims = await checkDevToken(bearer.token);
    const id = clean(claims.sub);
    if (!id) return { kind: 'invalid', detail: 'the token subject is empty or not printable' };
    return {
      kind: 'identity',
      identity: {
        id,
        name: clean(claims.name) ?? id,
        roles: [...new Set(claims.roles)].filter(isAppRole),
        via: 'development',
      },
    };
  } catch (err) {
    return { kind: 'invalid', detail: err instanceof Error ? err.message : 'the token is not valid' };
  }
}

/** How a caller may use a route: as anyone, by a role, or as a customer on their own data. */
export type Access =
  | { kind: 'anyone'; identity?: Identity }
  | { kind: 'role'; identity: Identity }
  | { kind: 'customer'; identity: Identity; customerId: string };

export type Decision = { ok: true; access: Access } | { ok: false; status: 401 | 403; detail: string };

/** True when the identity's id can be a customerId (the API's id convention). */
export const isCustomerId = (id: string): boolean => Id.safeParse(id).success;

/**
 * The route's requirement applied to the caller: 401 when the route needs a sign-in and there is none (or the
 * credentials are invalid), 403 when the caller is signed in but may not use it. For `customer` access the
 * ownership of an order is checked by `endpoint()` once the path is validated.
 */
export function authorize(auth: RouteAuth, authn: Authentication): Decision {
  if (authn.kind === 'invalid') return { ok: false, status: 401, detail: authn.detail };
  if (auth === 'anonymous')
    return {
      ok: true,
      access: authn.kind === 'identity' ? { kind: 'anyone', identity: authn.identity } : { kind: 'anyone' },
    };
  if (authn.kind === 'anonymous') return { ok: false, status: 401, detail: 'sign in to use this operation' };
  const identity = authn.identity;
  if (auth === 'authenticated') return { ok: true, access: { kind: 'anyone', identity } };
  if (auth.roles.some((r) => identity.roles.includes(r)))
    return { ok: true, access: { kind: 'role', identity } };
  if (auth.customer) {
    if (!isCustomerId(identity.id))
      return {
        ok: false,
        status: 403,
        detail: `your id ${JSON.stringify(identity.id)} cannot be a customer id`,
      };
    return { ok: true, access: { kind: 'customer', identity, customerId: identity.id } };
  }
  return { ok: false, status: 403, detail: `this operation needs the role ${auth.roles.join(' or ')}` };
}

/** The actor recorded in events' metadata: the verified identity, never a header the client chose. */
export const actorOf = (identity: Identity | undefined): string =>
  identity ? `user:${identity.id.slice(0, 256)}` : 'anonymous';
