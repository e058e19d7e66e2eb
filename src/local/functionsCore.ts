import Module from 'node:module';

/** A binding as `@azure/functions` hands it to the core API (`toCoreFunctionMetadata`). */
export interface CoreBinding {
  type: string;
  direction: 'in' | 'out';
  name?: string;
  [option: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, CoreBinding>;
  retryOptions?: Record<string, unknown>;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  metadata: CoreFunctionMetadata;
  /**
   * Calls the function: `callback(...inputs, invocationContext)`, the invocation context last. It runs the
   * `preInvocation` and `postInvocation` hooks around the handler, as the worker does.
   */
  callback: FunctionCallback;
  /** The trigger binding, and its key in `metadata.bindings`. */
  trigger: CoreBinding;
  /** Runs the `log` hooks for a log record of one of its invocations (`context.log`), as the worker does. */
  logHooks?: (level: string, message: string, invocationContext: unknown) => void;
}

type HookCallback = (context: unknown) => unknown;

/** What a `preInvocation` hook gets (and may change: the inputs, the handler), as the worker gives it. */
interface PreInvocationHookContext {
  invocationContext: unknown;
  inputs: unknown[];
  functionCallback: FunctionCallback;
  hookData: Record<string, unknown>;
  appHookData: Record<string, unknown>;
}

/**
 * The worker side of the `@azure/functions-core` contract that `@azure/functions` and `durable-functions`
 * call into: it captures every registration with its binding options, as the Azure Functions Node.js
 * worker does, so the local host can run the very same registrations
 * (docs/adr/0006-same-function-code-locally.md).
 */
export class FunctionsCore {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks = new Map<string, HookCallback[]>();
  /** Shared by every hook of the app, as the worker's `appHookData`. */
  readonly appHookData: Record<string, unknown> = {};
  programmingModel: unknown;

  readonly api = {
    version: '3.10.1',
    registerFunction: (metadata: CoreFunctionMetadata, callback: FunctionCallback) => {
      if (this.functions.has(metadata.name)) {
        throw new Error(`a function named "${metadata.name}" is already registered`);
      }
      const trigger = Object.values(metadata.bindings).find(
        (b) => b.direction === 'in' && /trigger$/i.test(b.type),
      );
      if (!trigger) throw new Error(`function "${metadata.name}" has no trigger binding`);
      this.functions.set(metadata.name, {
        metadata,
        callback: (...args: unknown[]) => this.invoke(callback, args),
        trigger,
        logHooks: (level, message, invocationContext) => this.runLogHooks(level, message, invocationContext),
      });
      return { dispose: () => this.functions.delete(metadata.name) };
    },
    registerHook: (hookName: string, callback: HookCallback) => {
      const list = this.hooks.get(hookName) ?? [];
      list.push(callback);
      this.hooks.set(hookName, list);
      return { dispose: () => list.splice(list.indexOf(callback), 1) };
    },
    setProgrammingModel: (model: unknown) => {
      this.programmingModel = model;
    },
    getProgrammingModel: () => this.programmingModel,
  };

  /** Functions whose trigger binding has the given type (case-insensitive, e.g. `httpTrigger`). */
  byTrigger(type: string): RegisteredFunction[] {
    return [...this.functions.values()].filter((f) => f.trigger.type.toLowerCase() === type.toLowerCase());
  }

  async runHooks(hookName: string, context: unknown): Promise<void> {
    for (const hook of this.hooks.get(hookName) ?? []) await hook(context);
  }

  /**
   * One invocation as the Node.js worker runs it: the `preInvocation` hooks (which may replace the inputs or
   * wrap the handler: the OpenTelemetry instrumentation binds it to the invocation's trace context), the
   * handler with the inputs and the invocation context, then the `postInvocation` hooks (which may replace the
   * result or the error). Without hooks, just the handler.
   */
  private async invoke(callback: FunctionCallback, args: unknown[]): Promise<unknown> {
    if (!this.hooks.get('preInvocation')?.length && !this.hooks.get('postInvocation')?.length) {
      return callback(...args);
    }
    const invocationContext = args[args.length - 1];
    const hookData: Record<string, unknown> = {};
    const pre: PreInvocationHookContext = {
      invocationContext,
      inputs: args.slice(0, -1),
      functionCallback: callback,
      hookData,
      appHookData: this.appHookData,
    };
    await this.runHooks('preInvocation', pre);
    const post: Record<string, unknown> = {
      invocationContext,
      inputs: pre.inputs,
      result: undefined,
      error: undefined,
      hookData,
      appHookData: this.appHookData,
    };
    try {
      post.result = await pre.functionCallback(...pre.inputs, invocationContext);
    } catch (err) {
      post.error = err;
    }
    await this.runHooks('postInvocation', post);
    if (post.error !== undefined) throw post.error;
    return post.result;
  }

  /** The `log` hooks of one log record; a failing hook never stops the logging. */
  private runLogHooks(level: string, message: string, invocationContext: unknown): void {
    for (const hook of this.hooks.get('log') ?? []) {
      try {
        void hook({ level, message, category: 'user', invocationContext, hookData: {} });
      } catch {
        // a hook's failure is the hook's business
      }
    }
  }
}

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;

/**
 * Answers `require('@azure/functions-core')` with this core. `@azure/functions` resolves the module once,
 * when it first registers a function, so this must run before any function file is loaded.
 */
export function installFunctionsCore(core: FunctionsCore): void {
  // Module._load is the documented-by-use hook point for virtual modules; it is not in @types/node.
  const mod = Module as unknown as { _load: ModuleLoad };
  const original = mod._load;
  mod._load = function (request, parent, isMain) {
    if (request === '@azure/functions-core') return core.api;
    return original.call(this, request, parent, isMain);
  };
}
