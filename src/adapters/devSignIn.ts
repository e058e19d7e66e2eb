import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors, jwtVerify, SignJWT } from 'jose';

/**
 * The local development sign-in: bearer tokens (JWT, HS256) signed with a key generated once per data
 * folder, `DATA_DIR/dev-signin.key` (32 random bytes, base64url, mode 0600). Whoever can read the data folder
 * can sign in as anyone, which is the point locally and why `AUTH_MODE=development` is refused on Azure
 * (src/config/settings.ts). Verified with `jose`.
 */

export const devSignInKeyFile = 'dev-signin.key';
export const devTokenIssuer = 'order-events/dev-signin';
export const devTokenAudience = 'order-events';
const algorithm = 'HS256';

/** The key of a data folder, created on first use (mode 0600); concurrent first uses agree on one key. */
export function devSignInKey(dataDir: string): Uint8Array {
  const path = join(dataDir, devSignInKeyFile);
  mkdirSync(dataDir, { recursive: true });
  try {
    // `wx`: only one creator wins; a loser reads the winner's key below.
    writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  if (key.length < 32)
    throw new Error(`${path} does not hold a key of 32 bytes or more; delete it to make a new one`);
  return new Uint8Array(key);
}

export interface DevTokenClaims {
  /** The caller's id: for a customer, their customerId. */
  sub: string;
  name?: string;
  roles: string[];
}

/** Signs a development token valid for `ttlSeconds` (default 8 hours). */
export async function signDevToken(
  key: Uint8Array,
  claims: DevTokenClaims,
  ttlSeconds = 8 * 3600,
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({ roles: claims.roles, ...(claims.name ? { name: claims.name } : {}) })
    .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(devTokenIssuer)
    .setAudience(devTokenAudience)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(key);
}

/** A token that is not valid: bad signature, expired, wrong issuer or audience, malformed claims. */
export class InvalidDevTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidDevTokenError';
  }
}

/**
 * Verifies a development token: HS256 only, this issuer and audience, `sub` and `exp` required (a clock
 * skew of 5 s allowed). Verifies every time; the host verifies through a {@link DevTokenVerifier}, which
 * remembers.
 * @returns the claims, a new object the caller may change
 * @throws InvalidDevTokenError saying why it is refused (for the 401's detail; it names no secret)
 */
export async function verifyDevToken(key: Uint8Array, token: string): Promise<DevTokenClaims> {
  return (await verifyWithExpiry(key, token)).claims;
}

/** verifyDevToken, and the token's `exp` (seconds since the epoch), until when its claims hold. */
async function verifyWithExpiry(
  key: Uint8Array,
  token: string,
): Promise<{ claims: DevTokenClaims; exp: number }> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [algorithm],
      issuer: devTokenIssuer,
      audience: devTokenAudience,
      requiredClaims: ['sub', 'exp'],
      clockTolerance: 5,
    });
    const roles = payload.roles ?? [];
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))
      throw new InvalidDevTokenError('the token\'s "roles" claim is not a list of strings');
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw new InvalidDevTokenError('the token has no subject');
    // jose has checked that `exp` is a number (requiredClaims); this only tells the compiler.
    if (typeof payload.exp !== 'number') throw new InvalidDevTokenError('the token has no expiry');
    const name = typeof payload.name === 'string' ? payload.name : undefined;
    return { claims: { sub: payload.sub, roles, ...(name ? { name } : {}) }, exp: payload.exp };
  } catch (err) {
    if (err instanceof InvalidDevTokenError) throw err;
    if (err instanceof errors.JWTExpired) throw new InvalidDevTokenError('the token has expired');
    if (err instanceof errors.JWSSignatureVerificationFailed)
      throw new InvalidDevTokenError('the token signature is not valid for this data folder');
    if (err instanceof errors.JOSEError)
      throw new InvalidDevTokenError(`the token is not valid: ${err.code}`);
    throw err;
  }
}

/**
 * verifyDevToken with one key, remembering the tokens it has verified: a browser page sends the same token
 * with every request, and verifying it again each time (an HMAC and a JSON parse) took about 6 % of the local
 * host's CPU. A token is remembered by its whole text, signature included, so a changed token is verified
 * afresh; only until its `exp` (without the 5 s of skew verifyDevToken allows), after which it is verified
 * again, and so refused; and never when it was refused. Only tokens signed with the key get in, so a caller
 * without it cannot fill the cache; it holds at most `maxEntries` tokens, dropping the one remembered first.
 */
export class DevTokenVerifier {
  /** Token text → its claims and `exp` in ms since the epoch; a Map, as tokens are whatever callers send. */
  private readonly verified = new Map<string, { claims: DevTokenClaims; expiresAtMs: number }>();

  /** @throws RangeError when `maxEntries` is not a whole number of 1 or more */
  constructor(
    private readonly key: Uint8Array,
    private readonly maxEntries = 1000,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries must be a whole number of 1 or more, not ${maxEntries}`);
  }

  /** How many verified tokens it remembers now (at most `maxEntries`; some may have expired). */
  get size(): number {
    return this.verified.size;
  }

  /**
   * As verifyDevToken.
   * @returns the claims, a new object each time: a caller may change it without changing what is remembered
   * @throws InvalidDevTokenError saying why it is refused
   */
  async verify(token: string): Promise<DevTokenClaims> {
    const remembered = this.verified.get(token);
    if (remembered && Date.now() < remembered.expiresAtMs) return copyOf(remembered.claims);
    if (remembered) this.verified.delete(token);
    const { claims, exp } = await verifyWithExpiry(this.key, token);
    const expiresAtMs = exp * 1000;
    // Accepted within the 5 s of skew after its exp: not remembered, each use is verified again.
    if (Date.now() < expiresAtMs) {
      // The same token verified concurrently may be here already: replacing it needs no room.
      if (!this.verified.has(token) && this.verified.size >= this.maxEntries) {
        const oldest = this.verified.keys().next();
        if (!oldest.done) this.verified.delete(oldest.value);
      }
      this.verified.set(token, { claims, expiresAtMs });
    }
    return copyOf(claims);
  }
}

const copyOf = (claims: DevTokenClaims): DevTokenClaims => ({ ...claims, roles: [...claims.roles] });
