import { InvocationContext, LogLevel } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { RegisteredFunction } from './functionsCore';
import { Logger } from './logger';

/**
 * Builds the InvocationContext the Azure Functions worker would pass: invocation id, function name, the
 * binding options (trigger, extra inputs and outputs) and a log handler writing to the host's log.
 */
export function createInvocationContext(
  fn: RegisteredFunction,
  logger: Logger,
  extra: { traceParent?: string; extraInputs?: Record<string, unknown> } = {},
): InvocationContext {
  const bindings = Object.entries(fn.metadata.bindings);
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: fn.metadata.name,
    traceContext: extra.traceParent ? { traceParent: extra.traceParent } : undefined,
    logHandler: (level: LogLevel, ...args: unknown[]) => logger.log(level, fn.metadata.name, ...args),
    options: {
      // The option objects are the captured bindings, which is what the worker hands the library too.
      trigger: fn.trigger as unknown as InvocationContext['options']['trigger'],
      extraInputs: bindings
        .filter(([, b]) => b.direction === 'in' && b !== fn.trigger)
        .map(
          ([name, b]) => ({ ...b, name }) as unknown as InvocationContext['options']['extraInputs'][number],
        ),
      extraOutputs: bindings
        .filter(([key, b]) => b.direction === 'out' && key !== '$return')
        .map(
          ([name, b]) => ({ ...b, name }) as unknown as InvocationContext['options']['extraOutputs'][number],
        ),
    },
  });
  for (const [name, value] of Object.entries(extra.extraInputs ?? {})) context.extraInputs.set(name, value);
  return context;
}
