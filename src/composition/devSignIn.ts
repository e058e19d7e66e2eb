import { resolve } from 'node:path';
import {
  devSignInKey,
  devSignInKeyFile,
  DevTokenClaims,
  InvalidDevTokenError,
  verifyDevToken,
} from '../adapters/devSignIn';

export { InvalidDevTokenError };

const keys = new Map<string, Uint8Array>();

/**
 * Verifies a development sign-in token against the key of `dataDir` (created on first use). Only for
 * `AUTH_MODE=development`, which settings refuse on Azure.
 * @throws InvalidDevTokenError when the token is not valid
 */
export async function verifyDevelopmentToken(dataDir: string, token: string): Promise<DevTokenClaims> {
  const dir = resolve(dataDir);
  let key = keys.get(dir);
  if (!key) {
    key = devSignInKey(dir);
    keys.set(dir, key);
  }
  return verifyDevToken(key, token);
}

/** Creates the key of `dataDir` if it is missing; returns where it is. */
export function ensureDevSignInKey(dataDir: string): string {
  const dir = resolve(dataDir);
  if (!keys.has(dir)) keys.set(dir, devSignInKey(dir));
  return resolve(dir, devSignInKeyFile);
}
