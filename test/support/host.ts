import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface TestHost {
  baseUrl: string;
  dataDir: string;
  logs: string[];
  process: ChildProcess;
  /** SIGTERM, and wait for exit; resolves the exit code. */
  stop(): Promise<number | null>;
}

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
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && !child.killed) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A JSON request to the host; returns status, headers and the parsed body. */
export async function call(
  host: TestHost,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // Tests read arbitrary JSON answers; typing each shape would add nothing to what the assertions check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(host.baseUrl + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
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
