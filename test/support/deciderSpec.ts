import { expect } from 'vitest';
import { decide, DomainError, evolve, OrderCommand } from '../../src/domain/decider';
import { OrderEvent } from '../../src/domain/events';
import { initialState } from '../../src/domain/state';

/**
 * Given/when/then specifications of the decider: given past events, when a command is decided,
 * then these events (or this refusal).
 */
export function given(...history: OrderEvent[]) {
  const state = history.reduce(evolve, initialState());
  return {
    when(command: OrderCommand) {
      const run = () => decide(command, state);
      return {
        then(...expected: OrderEvent[]) {
          expect(run()).toEqual(expected);
        },
        thenNothing() {
          expect(run()).toEqual([]);
        },
        thenRefused(kind: DomainError['kind'], message?: RegExp) {
          let error: unknown;
          try {
            run();
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(DomainError);
          expect((error as DomainError).kind).toBe(kind);
          if (message) expect((error as DomainError).message).toMatch(message);
        },
      };
    },
  };
}
