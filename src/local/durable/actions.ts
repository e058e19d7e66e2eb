/**
 * Actions an orchestrator returns (the `actions` of the orchestrator state), by `actionType` as the
 * library numbers them (azure-functions-durable-js `src/actions/ActionType.ts`). With replay schema V2 and
 * later, `actions` is `[[...every action the execution issued so far]]`, `WhenAll`/`WhenAny` nesting theirs
 * in `compoundActions`.
 */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

const names = Object.fromEntries(Object.entries(ActionType).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;

/** `RetryOptions` as the library serializes them (milliseconds). */
export interface RetryOptionsWire {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export type Action =
  | { actionType: typeof ActionType.CallActivity; functionName: string; input?: unknown }
  | {
      actionType: typeof ActionType.CallActivityWithRetry;
      functionName: string;
      input?: unknown;
      retryOptions: RetryOptionsWire;
    }
  | { actionType: typeof ActionType.CreateTimer; fireAt: Date | string; isCanceled?: boolean }
  | { actionType: typeof ActionType.WaitForExternalEvent; externalEventName: string }
  | { actionType: typeof ActionType.WhenAll | typeof ActionType.WhenAny; compoundActions: Action[] }
  | { actionType: number; functionName?: string };

/** Actions that get a task id: everything but waits for external events and compound actions. */
export type ScheduledAction = Extract<
  Action,
  {
    actionType:
      | typeof ActionType.CallActivity
      | typeof ActionType.CallActivityWithRetry
      | typeof ActionType.CreateTimer;
  }
>;

/** The leaf actions in the order the library numbers their tasks (depth first), each once. */
export function leafActions(actions: unknown): Action[] {
  const out: Action[] = [];
  const seen = new Set<object>();
  const visit = (a: Action) => {
    if (seen.has(a)) return; // a task yielded again inside another Task.all/any keeps its first id
    seen.add(a);
    if (a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny) {
      for (const c of (a as { compoundActions: Action[] }).compoundActions) visit(c);
    } else out.push(a);
  };
  const top = Array.isArray(actions) ? (actions as unknown[]) : [];
  for (const group of top) for (const a of Array.isArray(group) ? group : [group]) visit(a as Action);
  return out;
}

export const isScheduled = (a: Action): a is ScheduledAction =>
  a.actionType === ActionType.CallActivity ||
  a.actionType === ActionType.CallActivityWithRetry ||
  a.actionType === ActionType.CreateTimer;

/** `CallActivity 'reserveStock'`, `CreateTimer`, ...: how an action is named in messages. */
export function describeAction(a: { actionType: number; functionName?: string }): string {
  const name = names[a.actionType] ?? `action type ${a.actionType}`;
  return a.functionName ? `${name} '${a.functionName}'` : name;
}

/** The activity input the extension hands the activity: the library JSON-encodes string inputs once more. */
export function activityInputOf(a: { input?: unknown }): unknown {
  if (typeof a.input !== 'string') return a.input;
  try {
    return JSON.parse(a.input) as unknown;
  } catch {
    return a.input;
  }
}

export const fireAtOf = (a: { fireAt: Date | string }): Date => new Date(a.fireAt);
