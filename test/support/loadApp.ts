import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root (package.json, dist/). */
export const repoRoot = resolve(__dirname, '../..');

/**
 * App settings of a deployment on Azure, as Bicep sets them: Cosmos DB, Event Grid and Storage through the
 * user-assigned identity, nothing local. Every host name is a placeholder that must never be reached.
 */
export const azureAppSettings: Readonly<Record<string, string>> = {
  EVENT_STORE: 'cosmos',
  COSMOS__accountEndpoint: 'https://x.documents.azure.com:443/',
  COSMOS_DATABASE: 'orders',
  COSMOS__credential: 'managedidentity',
  COSMOS__clientId: '00000000-0000-0000-0000-00000000c1d0',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-00000000c1d0',
  EVENTGRID_TOPIC_ENDPOINT: 'https://x.westeurope-1.eventgrid.azure.net/api/events',
  DEAD_LETTERS: 'blob',
  DEAD_LETTERS_STORAGE__blobServiceUri: 'https://x.blob.core.windows.net',
  WEBSITE_HOSTNAME: 'x.azurewebsites.net',
};

/** A binding as the functions core received it (see src/local/functionsCore.ts `CoreBinding`). */
export interface ReportedBinding {
  type: string;
  direction: 'in' | 'out';
  name?: string;
  [option: string]: unknown;
}

/** One registered function, as the Functions host would see it. */
export interface ReportedFunction {
  name: string;
  /** The function file that registered it, relative to the app root (`dist/src/functions/orders.js`). */
  file: string;
  trigger: ReportedBinding;
  /** Input bindings besides the trigger (e.g. the durable client). */
  extraInputs: ReportedBinding[];
  /** Output bindings (e.g. the http return value). */
  outputs: ReportedBinding[];
  retryOptions?: Record<string, unknown>;
}

/** What loading the app in a fresh process showed. */
export interface AppLoadReport {
  /** The files package.json `main` matched, in load order, relative to the app root. */
  files: string[];
  /** Files whose loading threw, with the error. */
  loadErrors: { file: string; error: string }[];
  functions: ReportedFunction[];
  /** Hook names registered through the core (`appTerminate` from src/index.ts), with how many. */
  hooks: Record<string, number>;
  libsql: {
    /** Resolutions of `libsql` or `@libsql/*` asked for, from any module (0: nothing tried to load it). */
    requests: number;
    /** Who asked for it, as `request <- parent file`. */
    requesters: string[];
    /** `require.cache` entries under a `libsql` or `@libsql` folder (empty: no libsql code ran). */
    loaded: string[];
  };
  /** Outbound connections or DNS look-ups attempted (and refused) in the child, as `kind host:port`. */
  network: string[];
  /** `services()` from the app's dist/src/composition/services.js, when asked for. */
  services?:
    | {
        ok: true;
        /** Constructor names of the main services, e.g. `{ store: 'CosmosEventStore' }`. */
        kinds: Record<string, string>;
        eventStore: string;
        database: string | undefined;
      }
    | { ok: false; error: string };
}

/** How to load the app in the child process. */
export interface LoadAppOptions {
  /** The app root: a folder with package.json whose `main` names the function files (the repo, an unpacked package). */
  root: string;
  /** The child's whole environment besides PATH and HOME: app settings only, nothing inherited. */
  settings: Readonly<Record<string, string>>;
  /** Make `libsql` (and `@libsql/*`) unresolvable, as in a package built without it (a resolve hook). */
  blockLibsql?: boolean;
  /** Also build the services (`services()`), then close them. */
  buildServices?: boolean;
  /** Bound for the child process, in ms (generous: a bound, not an expectation). */
  timeoutMs?: number;
}

/**
 * The child's program (CommonJS, run with `node -e`; its one argument is the JSON of {@link ChildConfig}).
 * Before anything of the app loads it: refuses every outbound connection and DNS look-up (recording them),
 * hooks `Module._resolveFilename` to count (and, when asked, refuse) resolutions of `libsql`, and installs
 * the host's functions core, so that `@azure/functions` finds `@azure/functions-core` when it loads. Then it
 * loads package.json `main` with a glob and `require`, as the Functions host does, and writes the report.
 */
const childProgram = String.raw`
'use strict';
const Module = require('node:module');
const net = require('node:net');
const dns = require('node:dns');
const fs = require('node:fs');
const path = require('node:path');
const config = JSON.parse(process.argv[1]);

const network = [];
const refuse = (what) => Object.assign(new Error('network refused by the test: ' + what), { code: 'ECONNREFUSED' });
net.Socket.prototype.connect = function (...args) {
  const options = typeof args[0] === 'object' && args[0] !== null ? (Array.isArray(args[0]) ? args[0][0] : args[0]) : { port: args[0], host: args[1] };
  const target = options.path ? 'ipc ' + options.path : 'tcp ' + (options.host || 'localhost') + ':' + options.port;
  network.push(target);
  process.nextTick(() => this.destroy(refuse(target)));
  return this;
};
const lookup = (hostname, options, callback) => {
  const cb = typeof options === 'function' ? options : callback;
  network.push('dns ' + hostname);
  process.nextTick(() => cb(refuse('dns ' + hostname)));
};
dns.lookup = lookup;
dns.promises.lookup = async (hostname) => {
  network.push('dns ' + hostname);
  throw refuse('dns ' + hostname);
};

const libsql = { requests: 0, requesters: [] };
const isLibsql = (request) => request === 'libsql' || request.startsWith('libsql/') || request.startsWith('@libsql/');
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (typeof request === 'string' && isLibsql(request)) {
    libsql.requests++;
    libsql.requesters.push(request + ' <- ' + (parent && parent.filename));
    if (config.blockLibsql) {
      throw Object.assign(new Error("Cannot find module '" + request + "' (made unresolvable by the test)"), { code: 'MODULE_NOT_FOUND' });
    }
  }
  return originalResolve.call(this, request, parent, ...rest);
};

const { FunctionsCore, installFunctionsCore } = require(config.coreModule);
const core = new FunctionsCore();
installFunctionsCore(core);

const { globSync } = require(config.globModule);
const root = config.root;
const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).main;
const files = globSync(main, { cwd: root, absolute: true }).sort();
const rel = (file) => path.relative(root, file).split(path.sep).join('/');
const registeredBy = new Map();
const loadErrors = [];
for (const file of files) {
  const before = new Set(core.functions.keys());
  try {
    require(path.resolve(file));
  } catch (err) {
    loadErrors.push({ file: rel(file), error: String((err && err.stack) || err) });
  }
  for (const name of core.functions.keys()) if (!before.has(name)) registeredBy.set(name, rel(file));
}

const plain = (value) => JSON.parse(JSON.stringify(value));
const functions = [...core.functions.values()].map((fn) => {
  const bindings = Object.values(fn.metadata.bindings);
  return {
    name: fn.metadata.name,
    file: registeredBy.get(fn.metadata.name),
    trigger: plain(fn.trigger),
    extraInputs: plain(bindings.filter((b) => b !== fn.trigger && b.direction === 'in')),
    outputs: plain(bindings.filter((b) => b.direction === 'out')),
    ...(fn.metadata.retryOptions ? { retryOptions: plain(fn.metadata.retryOptions) } : {}),
  };
});
const hooks = Object.fromEntries([...core.hooks].map(([name, list]) => [name, list.length]));
const libsqlLoaded = () => Object.keys(require.cache).filter((f) => /[\\/](libsql|@libsql)[\\/]/.test(f));

(async () => {
  let services;
  if (config.buildServices) {
    try {
      const composition = require(path.join(root, 'dist/src/composition/services.js'));
      const built = composition.services();
      const kinds = {};
      for (const key of ['store', 'readModel', 'idempotency', 'stockDemand', 'notifications', 'stock', 'deadLetters', 'orders']) {
        kinds[key] = built[key] && built[key].constructor ? built[key].constructor.name : typeof built[key];
      }
      // A grace period for anything a constructor might have started in the background (a probe, a token
      // request): a request sent at build time would be refused and recorded in network meanwhile.
      await new Promise((done) => setTimeout(done, 200));
      await composition.closeServices();
      services = { ok: true, kinds, eventStore: built.settings.EVENT_STORE, database: built.settings.COSMOS_DATABASE };
    } catch (err) {
      services = { ok: false, error: String((err && err.stack) || err) };
    }
  }
  const report = {
    files: files.map(rel),
    loadErrors,
    functions,
    hooks,
    libsql: { ...libsql, loaded: libsqlLoaded() },
    network,
    ...(services ? { services } : {}),
  };
  fs.writeFileSync(config.reportFile, JSON.stringify(report, null, 2));
  // Whatever the app left open (SDK timers, keep-alive agents) must not keep the child alive.
  process.exit(0);
})();
`;

/** What the child reads from its argument. */
interface ChildConfig {
  root: string;
  coreModule: string;
  globModule: string;
  reportFile: string;
  blockLibsql: boolean;
  buildServices: boolean;
}

/**
 * Loads an app (the repo's dist/, or an unpacked package) in a fresh Node process, as the Functions host
 * would: the functions core installed first (the repo's src/local/functionsCore.ts, built: the host's side,
 * never the app's), then every file of package.json `main`. Nothing is inherited from this process's
 * environment or module state, and no NODE_PATH reaches the child, so modules resolve from the app root alone.
 * @throws Error with the child's output when the child fails or outlives the bound
 */
export async function loadAppInChild(options: LoadAppOptions): Promise<AppLoadReport> {
  const dir = mkdtempSync(join(tmpdir(), 'orders-load-app-'));
  const nodeRequire = createRequire(__filename);
  const config: ChildConfig = {
    root: resolve(options.root),
    coreModule: join(repoRoot, 'dist/src/local/functionsCore.js'),
    // The host's own glob, from this repo: the loader belongs to the host, not to the app under test.
    globModule: nodeRequire.resolve('tinyglobby'),
    reportFile: join(dir, 'report.json'),
    blockLibsql: options.blockLibsql ?? false,
    buildServices: options.buildServices ?? false,
  };
  const env: Record<string, string> = { ...options.settings };
  if (process.env.PATH) env.PATH = process.env.PATH;
  if (process.env.HOME) env.HOME = process.env.HOME;
  try {
    const output: string[] = [];
    const child = spawn(process.execPath, ['-e', childProgram, JSON.stringify(config)], {
      cwd: config.root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
    const timeoutMs = options.timeoutMs ?? 180_000;
    const code = await new Promise<number | null>((res, rej) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        rej(new Error(`loading the app took over ${timeoutMs / 1000} s:\n${output.join('')}`));
      }, timeoutMs);
      child.once('error', rej);
      child.once('exit', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    if (code !== 0) throw new Error(`the child loading the app exited with ${code}:\n${output.join('')}`);
    return JSON.parse(readFileSync(config.reportFile, 'utf8')) as AppLoadReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Resolves an app-setting binding expression as the Functions host does for binding options: each `%NAME%`
 * is replaced by the app setting NAME.
 * @throws Error when a named setting is not set (the host refuses to index the function)
 */
export function resolveAppSettingExpression(
  value: string,
  settings: Readonly<Record<string, string>>,
): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const setting = settings[name];
    if (setting === undefined) throw new Error(`app setting ${name} (named by "${value}") is not set`);
    return setting;
  });
}
