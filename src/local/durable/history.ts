/**
 * Orchestration history events as the Durable Functions extension hands them to an out-of-process worker
 * (the `history` of the orchestration trigger input), built as plain JSON with the documented field names.
 * The `durable-functions` replay engine reads `EventType` (the numbers of `HistoryEventType` in the Durable
 * Task Framework), `Timestamp`, `IsPlayed` and, per type, the fields below; `TaskScheduled` and
 * `TimerCreated` it ignores, but they stay in the history as the extension writes them.
 * Source of the shapes: azure-functions-durable-js `src/history/*` and DurableTask.Core `History/*`.
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
} as const;

export type EventTypeName = keyof typeof EventType;
export const eventTypeName = (n: number): string =>
  (Object.keys(EventType) as EventTypeName[]).find((k) => EventType[k] === n) ?? `EventType ${n}`;

interface Base {
  /** The task id for TaskScheduled and TimerCreated; -1 for every other event. */
  EventId: number;
  /** ISO 8601 UTC; the library turns it into a Date. */
  Timestamp: string;
  /** True for events of earlier episodes (replayed), false for the new ones of this episode. */
  IsPlayed: boolean;
}

/** Failure details of a failed task, as the library reads them (`FailureDetails` DTO, PascalCase). */
export interface FailureDetails {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
}

export type HistoryEvent = Base &
  (
    | { EventType: typeof EventType.ExecutionStarted; Name: string; Input?: string; Version?: string }
    | {
        EventType: typeof EventType.ExecutionCompleted;
        OrchestrationStatus: 'Completed' | 'Failed';
        Result?: string;
        FailureDetails?: FailureDetails;
      }
    | { EventType: typeof EventType.ExecutionTerminated; Input?: string }
    | { EventType: typeof EventType.TaskScheduled; Name: string; Input?: string }
    | { EventType: typeof EventType.TaskCompleted; TaskScheduledId: number; Result: string }
    | {
        EventType: typeof EventType.TaskFailed;
        TaskScheduledId: number;
        Reason: string;
        Details: string;
        FailureDetails: FailureDetails;
      }
    | { EventType: typeof EventType.TimerCreated; FireAt: string }
    | { EventType: typeof EventType.TimerFired; TimerId: number; FireAt: string }
    | { EventType: typeof EventType.OrchestratorStarted }
    | { EventType: typeof EventType.OrchestratorCompleted }
    | { EventType: typeof EventType.EventRaised; Name: string; Input?: string }
  );

export type EventOf<T extends number> = Extract<HistoryEvent, { EventType: T }>;

/** Distributes `Omit` over the union, so each variant keeps its own fields. */
type NewEvent = HistoryEvent extends infer E
  ? E extends HistoryEvent
    ? Omit<E, 'Timestamp' | 'IsPlayed' | 'EventId'>
    : never
  : never;

/** A new (unplayed) event at `at`; `EventId` -1 unless it is a scheduling event with its task id. */
export function event(at: Date, e: NewEvent, eventId = -1): HistoryEvent {
  return { EventId: eventId, Timestamp: at.toISOString(), IsPlayed: false, ...e } as HistoryEvent;
}

export const isType = <T extends number>(e: HistoryEvent, type: T): e is EventOf<T> => e.EventType === type;

/** JSON text of a value for `Input`/`Result` (the library `JSON.parse`s it; `undefined` travels as null). */
export const jsonText = (value: unknown): string => JSON.stringify(value ?? null);

/**
 * The value of a stored JSON text (inputs, results, statuses); null for none. A text that is not JSON is
 * handed on as the text itself rather than failing the caller.
 */
export const parseJson = (text: string | null | undefined): unknown => {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};
