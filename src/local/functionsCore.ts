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
  callback: FunctionCallback;
  /** The trigger binding, and its key in `metadata.bindings`. */
  trigger: CoreBinding;
}

type HookCallback = (context: unknown) => unknown;

/**
 * The worker side of the `@azure/functions-core` contract that `@azure/functions` and `durable-functions`
 * call into: it captures every registration with its binding options, as the Azure Functions Node.js
 * worker does, so the local host can run the very same registrations
 * (docs/adr/0006-same-function-code-locally.md).
 */
export class FunctionsCore {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks = new Map<string, HookCallback[]>();
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
      this.functions.set(metadata.name, { metadata, callback, trigger });
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
