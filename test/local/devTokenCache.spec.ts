import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  devSignInKey,
  DevTokenVerifier,
  InvalidDevTokenError,
  signDevToken,
} from '../../src/adapters/devSignIn';
import { verifyDevelopmentToken } from '../../src/composition/devSignIn';

/**
 * The local host remembers the development tokens it has verified, so a page's token is not verified on every
 * request: only a token verified with the same key, with the same text (signature included), until its `exp`;
 * never one refused; and no more than a bounded number of them. jose's jwtVerify is spied on (calling
 * through) to tell a remembered token from one verified again.
 */

vi.mock('jose', async (importOriginal) => {
  const actual = await importOriginal<typeof import('jose')>();
  return { ...actual, jwtVerify: vi.fn(actual.jwtVerify) };
});
const jwtVerify = vi.mocked(jose.jwtVerify);

const newDataDir = () => mkdtempSync(join(tmpdir(), 'devtokencache-'));
const nowSeconds = () => Math.floor(Date.now() / 1000);

let key: Uint8Array;
beforeEach(() => {
  key = devSignInKey(newDataDir());
  jwtVerify.mockClear();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the cache of verified development tokens', () => {
  it('verifies a valid token once and answers the same claims the second time', async () => {
    const verifier = new DevTokenVerifier(key);
    const token = await signDevToken(key, { sub: 'ana', name: 'Ana', roles: ['orders.read'] });

    const first = await verifier.verify(token);
    const second = await verifier.verify(token);

    expect(first).toEqual({ sub: 'ana', name: 'Ana', roles: ['orders.read'] });
    expect(second).toEqual(first);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('answers a new copy each time: a caller changing it does not change what is remembered', async () => {
    const verifier = new DevTokenVerifier(key);
    const token = await signDevToken(key, { sub: 'ana', roles: ['orders.read'] });

    const first = await verifier.verify(token);
    first.roles.push('orders.admin');
    first.sub = 'mallory';

    expect(await verifier.verify(token)).toEqual({ sub: 'ana', roles: ['orders.read'] });
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('refuses a token past its exp even though it was verified and remembered before', async () => {
    const verifier = new DevTokenVerifier(key);
    const token = await signDevToken(key, { sub: 'ana', roles: [] }, 60);
    expect(await verifier.verify(token)).toEqual({ sub: 'ana', roles: [] });
    expect(verifier.size).toBe(1);

    // Two minutes on: past exp and past jwtVerify's 5 s of skew, so only a remembered answer could accept it.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 120_000);

    await expect(verifier.verify(token)).rejects.toThrow(InvalidDevTokenError);
    await expect(verifier.verify(token)).rejects.toThrow(/expired/);
    expect(jwtVerify).toHaveBeenCalledTimes(3);
  });

  it('verifies again once exp is reached, without the skew jwtVerify allows', async () => {
    const verifier = new DevTokenVerifier(key);
    const now = nowSeconds();
    const token = await signDevToken(key, { sub: 'ana', roles: [] }, 60, now);
    await verifier.verify(token);

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime((now + 60) * 1000); // exactly exp: jwtVerify still accepts (skew), the cache does not

    expect(await verifier.verify(token)).toEqual({ sub: 'ana', roles: [] });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('refuses a token whose signature was changed even when the unchanged token is remembered', async () => {
    const verifier = new DevTokenVerifier(key);
    const token = await signDevToken(key, { sub: 'ana', roles: ['orders.admin'] });
    await verifier.verify(token);

    const [header, payload, signature] = token.split('.');
    // A character in the middle: the last one of a base64url HMAC carries padding bits that may not count.
    const i = 10;
    const changed = signature.slice(0, i) + (signature[i] === 'A' ? 'B' : 'A') + signature.slice(i + 1);
    const tampered = `${header}.${payload}.${changed}`;

    await expect(verifier.verify(tampered)).rejects.toThrow(/signature/);
    await expect(verifier.verify(tampered)).rejects.toThrow(/signature/); // and does not remember the refusal
    expect(verifier.size).toBe(1);
  });

  it('refuses with one data folder a token remembered for another', async () => {
    const dirA = newDataDir();
    const dirB = newDataDir();
    const token = await signDevToken(devSignInKey(dirA), { sub: 'ana', roles: ['orders.admin'] });

    expect(await verifyDevelopmentToken(dirA, token)).toEqual({ sub: 'ana', roles: ['orders.admin'] });
    await expect(verifyDevelopmentToken(dirB, token)).rejects.toThrow(/signature/);
    expect(await verifyDevelopmentToken(dirA, token)).toEqual({ sub: 'ana', roles: ['orders.admin'] });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('holds at most maxEntries tokens, dropping the one verified first', async () => {
    const verifier = new DevTokenVerifier(key, 3);
    const tokens = await Promise.all(
      ['t1', 't2', 't3', 't4', 't5'].map((sub) => signDevToken(key, { sub, roles: [] })),
    );
    for (const token of tokens) await verifier.verify(token);
    expect(verifier.size).toBe(3);
    expect(jwtVerify).toHaveBeenCalledTimes(5);

    // t3..t5 are remembered; t1 was dropped, so it is verified again (and then t3 is dropped).
    for (const token of tokens.slice(2).reverse()) await verifier.verify(token);
    expect(jwtVerify).toHaveBeenCalledTimes(5);
    expect(await verifier.verify(tokens[0])).toEqual({ sub: 't1', roles: [] });
    expect(jwtVerify).toHaveBeenCalledTimes(6);
    expect(verifier.size).toBe(3);
    await verifier.verify(tokens[2]);
    expect(jwtVerify).toHaveBeenCalledTimes(7);
  });

  it('refuses a size that is not a whole number of 1 or more', () => {
    expect(() => new DevTokenVerifier(key, 0)).toThrow(RangeError);
    expect(() => new DevTokenVerifier(key, 1.5)).toThrow(RangeError);
  });
});
