import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { devSignInKey, DevTokenClaims, signDevToken } from '../../src/adapters/devSignIn';

export interface TestHost {
  baseUrl: string;
  dataDir: string;
  logs: string[];
  process: ChildProcess;
  /** SIGTERM, and wait for exit; resolves the exit code. */
  stop(): Promise<number | null>;
  /** Signs a development sign-in token with the key of this host's data folder. */
  token(claims: DevTokenClaims, ttlSeconds?: number): Promise<string>;
  /** `Authorization: Bearer …` of `support`, holding every role: what `call` sends unless told otherwise. */
  supportAuthorization: string;
}

/** Every role: the identity `call` uses by default, so tests that are not about authorization can do anything. */
export const supportIdentity: DevTokenClaims = {
  sub: 'support',
  name: 'Test support',
  roles: ['orders.read', 'orders.approve', 'orders.admin'],
};

/** `Authorization` headers for `call(host, …, authAs(token))`; `anonymous` sends none. */
export const authAs = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
export const anonymous: Record<string, string> = { authorization: '' };

const root = resolve(__dirname, '../..');

/**
 * Bounds for waits, generous enough for a machine ten times slower than ours (a quiet start takes about
 * 1 s, and a condition in these tests holds within a few seconds); a wait ends as soon as it is met.
 */
const startTimeoutMs = 180_000;
export const defaultWaitMs = 180_000;

/**
 * Starts the local host (`node dist/src/local/main.js`, built by the test global setup) on a free port
 * with its own DATA_DIR, and waits until it listens.
 */
export async function startTestHost(env: Record<string, string> = {}, dataDir?: string): Promise<TestHost> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'orders-host-'));
  // The host's development sign-in key (created now if missing: the host and the tests share it).
  const key = devSignInKey(env.DATA_DIR ?? dir);
  const token = (claims: DevTokenClaims, ttlSeconds?: number) => signDevToken(key, claims, ttlSeconds);
  const supportAuthorization = `Bearer ${await token(supportIdentity, 24 * 3600)}`;
  const child = spawn(process.execPath, ['dist/src/local/main.js'], {
    cwd: root,
    env: { ...process.env, PORT: '0', DATA_DIR: dir, LOCAL_CHANGE_FEED_POLL_MS: '20', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const baseUrl = await new Promise<string>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`host did not start in ${startTimeoutMs / 1000} s:\n` + logs.join(''))),
      startTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      logs.push(text);
      const m = /listening on (http:\/\/[^\s]+)\/api/.exec(logs.join(''));
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => logs.push(c.toString()));
    void exited.then((code) => rej(new Error(`host exited with ${code}:\n${logs.join('')}`)));
  });
  return {
    baseUrl,
    dataDir: dir,
    logs,
    process: child,
    token,
    supportAuthorization,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && !child.killed) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * A JSON request to the host; returns status, headers and the parsed body. It signs in as `support` (every
 * role) unless `headers` names another `authorization` (`''`, as `anonymous` does, sends none).
 *
 * Each request has a connection of its own (`Connection: close`, unless `headers` says otherwise): a request
 * sent on a kept-alive connection just as the host drops it for being idle (its keep-alive timeout, 5 s)
 * is reset, and on a loaded machine, where either side can be held up for seconds, that race is lost now
 * and then (a request failed on `ECONNRESET` so at a load average of 20). Tests of keep-alive itself use
 * sockets of their own.
 */
export async function call(
  host: Pick<TestHost, 'baseUrl'> & Partial<Pick<TestHost, 'supportAuthorization'>>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // Tests read arbitrary JSON answers; typing each shape would add nothing to what the assertions check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; headers: Headers; body: any }> {
  const given = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const auth = 'authorization' in given ? given.authorization : host.supportAuthorization;
  delete given.authorization;
  const all = { connection: 'close', ...(auth ? { authorization: auth } : {}), ...given };
  const res = await fetch(host.baseUrl + path, {
    method,
    headers: body === undefined ? all : { 'content-type': 'application/json', ...all },
    body:
      body === undefined
        ? undefined
        : typeof body === 'string' || body instanceof Uint8Array
          ? body
          : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Polls `probe` every 50 ms until it returns a value; throws once `timeoutMs` passed without one. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = defaultWaitMs,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
