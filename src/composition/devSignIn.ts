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
  return verifyDevToken(keyOf(resolve(dataDir)), token);
}

/** Creates the key of `dataDir` if it is missing; returns where it is. */
export function ensureDevSignInKey(dataDir: string): string {
  const dir = resolve(dataDir);
  keyOf(dir);
  return resolve(dir, devSignInKeyFile);
}

/** The key of a data folder, read (or created) once per process. */
function keyOf(dir: string): Uint8Array {
  let key = keys.get(dir);
  if (!key) keys.set(dir, (key = devSignInKey(dir)));
  return key;
}
