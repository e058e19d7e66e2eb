import { resolve } from 'node:path';
import {
  devSignInKey,
  devSignInKeyFile,
  DevTokenClaims,
  DevTokenVerifier,
  InvalidDevTokenError,
} from '../adapters/devSignIn';

export { InvalidDevTokenError };

/** One verifier per data folder (absolute path): a token is remembered only for the key that verified it. */
const verifiers = new Map<string, DevTokenVerifier>();

/**
 * Verifies a development sign-in token against the key of `dataDir` (created on first use). Only for
 * `AUTH_MODE=development`, which settings refuse on Azure. A token verified before for this folder and not
 * yet past its `exp` is not verified again (see DevTokenVerifier: a page sends the same token every time).
 * @returns the claims, a new object the caller may change
 * @throws InvalidDevTokenError when the token is not valid
 */
export async function verifyDevelopmentToken(dataDir: string, token: string): Promise<DevTokenClaims> {
  return verifierOf(resolve(dataDir)).verify(token);
}

/** Creates the key of `dataDir` if it is missing; returns where it is. */
export function ensureDevSignInKey(dataDir: string): string {
  const dir = resolve(dataDir);
  verifierOf(dir);
  return resolve(dir, devSignInKeyFile);
}

/** The verifier of a data folder, whose key is read (or created) once per process. */
function verifierOf(dir: string): DevTokenVerifier {
  let verifier = verifiers.get(dir);
  if (!verifier) verifiers.set(dir, (verifier = new DevTokenVerifier(devSignInKey(dir))));
  return verifier;
}
