import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Azurite's blob service (the `azurite-blob` bin of the `azurite` devDependency), started as a child process
 * on a free port of 127.0.0.1, in memory (`--inMemoryPersistence`), without telemetry, in loose mode and
 * accepting any API version (the SDK may be newer than Azurite). Its working directory is a fresh temporary
 * folder, removed on stop, so nothing lands in the work tree.
 *
 * Clients authenticate as the emulator's well-known account `devstoreaccount1` with the key that
 * @azure/storage-blob itself supplies for `UseDevelopmentStorage=true`: {@link AzuriteBlob.connectionSetting}
 * is a DEAD_LETTERS_STORAGE value, and the key is written nowhere in this repository.
 */
export interface AzuriteBlob {
  /** Blob service URL of the account: `http://127.0.0.1:<port>/devstoreaccount1`. */
  url: string;
  /** DEAD_LETTERS_STORAGE setting for this instance: `UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://127.0.0.1:<port>`. */
  connectionSetting: string;
  /** Stops Azurite (SIGTERM, then SIGKILL after 30 s) and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/** Bounds for a machine ten times slower than ours; every wait ends as soon as its condition holds. */
const startTimeoutMs = 120_000;
const stopTimeoutMs = 30_000;
/** Starts on another port when the chosen one was taken in between (another test file's server). */
const maxAttempts = 5;

/**
 * Starts Azurite's blob service and waits until it answers.
 * @throws Error when it does not answer within 120 s, or exits (with its output) on every attempt
 */
export async function startAzuriteBlob(): Promise<AzuriteBlob> {
  const bin = azuriteBlobBin();
  const failures: string[] = [];
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const port = await freeLoopbackPort();
    const cwd = mkdtempSync(join(tmpdir(), 'azurite-'));
    const child = spawn(
      process.execPath,
      [
        bin,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--disableTelemetry',
        '--loose',
        '--skipApiVersionCheck',
        '--silent',
      ],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = outputTail(child);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const stop = async () => {
      process.removeListener('exit', killOnExit);
      await stopChild(child);
      rmSync(cwd, { recursive: true, force: true });
    };
    const origin = `http://127.0.0.1:${port}`;
    const started = await waitUntilListening(child, origin, output);
    if (started === 'listening') {
      let stopped: Promise<void> | undefined;
      return {
        url: `${origin}/devstoreaccount1`,
        connectionSetting: `UseDevelopmentStorage=true;DevelopmentStorageProxyUri=${origin}`,
        stop: () => (stopped ??= stop()),
      };
    }
    await stop();
    failures.push(`attempt ${attempt} on port ${port}: ${started}\n${output()}`);
    if (!/EADDRINUSE/.test(output())) break;
  }
  throw new Error(`Azurite's blob service did not start:\n${failures.join('\n')}`);
}

/** The `azurite-blob` bin of the installed azurite package (run with this Node, as on every platform). */
function azuriteBlobBin(): string {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const manifest = require.resolve('azurite/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifest), bin['azurite-blob']);
}

/** A port that was free on 127.0.0.1 a moment ago (the OS picks it). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Keeps the last 16 KB of the child's stdout and stderr, for error messages. */
function outputTail(child: ChildProcess): () => string {
  let text = '';
  const add = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => text;
}

/**
 * Polls until this child has said it listens on `origin` and a request there is answered by Azurite (its
 * `Server: Azurite-Blob/<version>` header; the answer itself is 403, as the probe is not signed).
 * @returns 'listening', or why not
 */
async function waitUntilListening(
  child: ChildProcess,
  origin: string,
  output: () => string,
): Promise<string> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  const deadline = Date.now() + startTimeoutMs;
  let delay = 50;
  while (Date.now() < deadline) {
    if (exited) return exited;
    if (output().includes(`successfully listens on ${origin}`) && (await answeredByAzurite(origin))) {
      return 'listening';
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
  return exited ?? `not listening after ${startTimeoutMs / 1000} s`;
}

function answeredByAzurite(origin: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${origin}/devstoreaccount1?restype=service&comp=properties`, (res) => {
      res.resume();
      resolve(String(res.headers.server ?? '').startsWith('Azurite-Blob'));
    });
    request.setTimeout(5000, () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}
