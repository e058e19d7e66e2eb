import { InvocationContext } from '@azure/functions';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { FunctionsCore } from '../functionsCore';
import { durableKeyPattern } from '../settings';

/** Where the extension's HTTP API lives on the function app's host (the client binding's rpcBaseUrl is below it). */
export const webhookPrefix = '/runtime/webhooks/durabletask/';
/**
 * First path segment of the client's own base URL, `{webhookPrefix}rpc/{key}/`: the library builds every
 * request from `rpcBaseUrl` with relative paths (query parameters of the base are dropped), so the system
 * key travels in the path there. See docs/durable.md.
 */
export const rpcSegment = 'rpc';

/** The durable client binding data the extension hands a function (`OrchestrationClientInputData`). */
export interface ClientBindingData {
  taskHubName: string;
  creationUrls: Record<string, string>;
  managementUrls: Record<string, string>;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

/** The system key and the client binding data built on it (the key never leaves this class otherwise). */
export class ClientBinding {
  private readonly key: string;

  /**
   * @param key the system key every webhook request must carry; random when not given
   * @throws Error when `key` does not match `durableKeyPattern`
   */
  constructor(
    private readonly hubName: string,
    key: string | undefined,
  ) {
    if (key !== undefined && !durableKeyPattern.test(key))
      throw new Error(`the durable system key must match ${durableKeyPattern}`);
    this.key = key ?? randomBytes(32).toString('base64url');
  }

  /** True when `candidate` is the system key (compared in constant time). */
  isKey(candidate: string | null | undefined): boolean {
    if (typeof candidate !== 'string') return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.key);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * The binding data of a `durableClient` input, pointing at this host's webhook routes, with the system
   * key as the extension gives it: `code` in every management and creation URL and in
   * `requiredQueryStringParameters`, and in the path of `rpcBaseUrl` (the library's requests start there).
   */
  data(origin: string): ClientBindingData {
    const base = `${origin}${webhookPrefix}`.replace(/\/$/, '');
    const q = `taskHub=${encodeURIComponent(this.hubName)}&connection=Storage&code=${this.key}`;
    const instance = `${base}/instances/INSTANCEID`;
    return {
      taskHubName: this.hubName,
      creationUrls: {
        createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${q}`,
        createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${q}`,
      },
      managementUrls: {
        id: 'INSTANCEID',
        statusQueryGetUri: `${instance}?${q}`,
        sendEventPostUri: `${instance}/raiseEvent/{eventName}?${q}`,
        terminatePostUri: `${instance}/terminate?reason={text}&${q}`,
        rewindPostUri: `${instance}/rewind?reason={text}&${q}`,
        purgeHistoryDeleteUri: `${instance}?${q}`,
        restartPostUri: `${instance}/restart?${q}`,
        suspendPostUri: `${instance}/suspend?reason={text}&${q}`,
        resumePostUri: `${instance}/resume?reason={text}&${q}`,
      },
      baseUrl: base,
      requiredQueryStringParameters: `code=${this.key}`,
      rpcBaseUrl: `${origin}${webhookPrefix}${rpcSegment}/${this.key}/`,
    };
  }
}

/** The management URLs of one instance (`createCheckStatusResponse`'s body). */
export function managementUrlsOf(data: ClientBindingData, instanceId: string): Record<string, string> {
  const urls = data.managementUrls;
  return Object.fromEntries(
    Object.entries(urls).map(([k, v]) => [k, v.replace('INSTANCEID', encodeURIComponent(instanceId))]),
  );
}

/**
 * The Functions host gives a function with a `durableClient` input its binding data with every
 * invocation; the local host does the same by wrapping those functions' handlers.
 */
export function supplyClientBindings(core: FunctionsCore, clientData: () => ClientBindingData): void {
  for (const fn of core.functions.values()) {
    const names = Object.entries(fn.metadata.bindings)
      .filter(([, b]) => b.direction === 'in' && /^(durableClient|orchestrationClient)$/i.test(b.type))
      .map(([name]) => name);
    if (names.length === 0) continue;
    const original = fn.callback;
    fn.callback = (trigger: unknown, context: unknown, ...rest: unknown[]) => {
      const ctx = context as InvocationContext;
      for (const name of names) ctx.extraInputs.set(name, clientData());
      return original(trigger, context, ...rest);
    };
  }
}
