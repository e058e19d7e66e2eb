import { InvocationContext } from '@azure/functions';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableClock } from '../../src/local/durable/clock';
import { LocalDurableRuntime, webhookPrefix } from '../../src/local/durable/runtime';
import { durableWebhooks } from '../../src/local/durable/webhooks';
import { FunctionsCore, installFunctionsCore, RegisteredFunction } from '../../src/local/functionsCore';
import { LocalHttpServer } from '../../src/local/httpServer';
import { createInvocationContext } from '../../src/local/invocation';
import { Logger } from '../../src/local/logger';
import { devSignInKey, signDevToken } from '../../src/adapters/devSignIn';
import { supportIdentity } from './host';

/**
 * The local durable runtime in this test process, as the host wires it: a FunctionsCore capturing the
 * registrations of `register()` (function files imported after the core is installed), the runtime with a
 * frozen clock the test moves, and the extension's HTTP API on a LocalHttpServer at a free port, so the real
 * `DurableClient` of durable-functions talks to it. The webhooks need the system key: LOCAL_DURABLE_KEY
 * from `env`, else a fixed test key (`key`). One per test file (vitest runs each file in its own
 * process; @azure/functions looks the core up once per process).
 */
export interface DurableHarness {
  core: FunctionsCore;
  runtime: LocalDurableRuntime;
  clock: DurableClock;
  dataDir: string;
  /** Where the harness's HTTP server listens (`/api` functions and the durable webhooks). */
  baseUrl: string;
  /** `Bearer …` of the `support` identity (every role), signed with the key of `dataDir`. */
  supportAuthorization: string;
  /** The system key the durable webhooks require (`code`): the env's LOCAL_DURABLE_KEY, or a fixed test key. */
  key: string;
  /** The absolute URL of a webhook path below `/runtime/webhooks/durabletask/`, with `code` set to the key. */
  webhookUrl(path: string): string;
  logs: string[];
  /** Calls a captured function as the host would, e.g. a change-feed function with documents. */
  invoke(functionName: string, trigger: unknown): Promise<unknown>;
  /** An InvocationContext carrying the durable client binding, for `df.getClient(context)`. */
  clientContext(): InvocationContext;
  /**
   * Lets the runtime work, moving the clock by `stepMs` whenever it is idle, until `done()` holds.
   * @throws Error after `maxSteps` steps
   */
  runUntil(done: () => boolean, options?: { stepMs?: number; maxSteps?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startDurableHarness(options: {
  env?: Record<string, string>;
  register: () => Promise<unknown>;
  maxShortTimerSeconds?: number;
  longTimerIntervalSeconds?: number;
}): Promise<DurableHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'orders-durable-'));
  Object.assign(process.env, { DATA_DIR: dataDir, ...options.env });
  const supportAuthorization = `Bearer ${await signDevToken(devSignInKey(dataDir), supportIdentity, 24 * 3600)}`;
  const core = new FunctionsCore();
  installFunctionsCore(core);
  await options.register();
  const logs: string[] = [];
  const logger = new Logger('debug', (line) => logs.push(line));
  const clock = new DurableClock('frozen', { start: new Date('2030-01-01T00:00:00Z') });
  const key = options.env?.LOCAL_DURABLE_KEY ?? 'test-durable-system-key';
  const runtime = new LocalDurableRuntime(core, logger, {
    dataDir,
    hubName: 'TestHub',
    clock,
    key,
    maxShortTimerSeconds: options.maxShortTimerSeconds,
    longTimerIntervalSeconds: options.longTimerIntervalSeconds,
  });
  const http = new LocalHttpServer(logger);
  http.serveFunctions(core);
  http.mount(webhookPrefix, durableWebhooks(runtime));
  const port = await http.listen(0);
  runtime.start(`http://127.0.0.1:${port}`);

  const fnNamed = (name: string): RegisteredFunction => {
    const fn = core.functions.get(name);
    if (!fn) throw new Error(`no function ${name}; registered: ${[...core.functions.keys()].join(', ')}`);
    return fn;
  };
  return {
    core,
    runtime,
    clock,
    dataDir,
    baseUrl: `http://127.0.0.1:${port}`,
    supportAuthorization,
    key,
    webhookUrl: (path) => {
      const url = new URL(`${webhookPrefix}${path.replace(/^\//, '')}`, `http://127.0.0.1:${port}`);
      url.searchParams.set('code', key);
      return url.toString();
    },
    logs,
    invoke: async (name, trigger) => {
      const fn = fnNamed(name);
      return fn.callback(trigger, createInvocationContext(fn, logger));
    },
    clientContext: () => {
      const context = new InvocationContext({
        functionName: 'test',
        options: {
          trigger: { type: 'httpTrigger', name: 'req' },
          extraInputs: [{ type: 'durableClient', name: 'client' }],
          extraOutputs: [],
        },
      });
      context.extraInputs.set('client', runtime.clientData());
      return context;
    },
    runUntil: async (done, { stepMs = 1000, maxSteps = 500 } = {}) => {
      for (let step = 0; ; step++) {
        await runtime.idle();
        if (done()) return;
        if (step >= maxSteps)
          throw new Error(`not done after ${maxSteps} steps of ${stepMs} ms:\n${logs.slice(-20).join('\n')}`);
        clock.advance(stepMs);
      }
    },
    stop: async () => {
      await http.close();
      await runtime.stop();
    },
  };
}
