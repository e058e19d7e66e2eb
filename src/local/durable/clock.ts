/** Longest delay `setTimeout` takes (2^31-1 ms, about 24.8 days); longer waits re-arm. */
const maxTimeoutMs = 2 ** 31 - 1;

interface Scheduled {
  at: number;
  fire: () => void;
  handle?: NodeJS.Timeout;
}

/**
 * The time of the local durable runtime: what `currentUtcDateTime` reads (the `OrchestratorStarted`
 * timestamps) and when durable timers fire.
 * - `system`: wall-clock time.
 * - `manual`: wall-clock time plus an offset that only moves forward, through `advance()` (tests, demos:
 *   `LOCAL_DURABLE_CLOCK=manual` and the local clock route).
 * - `frozen`: stands still at `start` until `advance()`; for in-process tests that step time exactly.
 */
export class DurableClock {
  private offsetMs: number;
  private readonly scheduled = new Set<Scheduled>();
  private readonly frozenAt: number;

  constructor(
    readonly mode: 'system' | 'manual' | 'frozen' = 'system',
    options: { offsetMs?: number; start?: Date } = {},
  ) {
    this.offsetMs = options.offsetMs ?? 0;
    this.frozenAt = options.start?.getTime() ?? Date.now();
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return (this.mode === 'frozen' ? this.frozenAt : Date.now()) + this.offsetMs;
  }

  /** The offset added to wall-clock time (manual) or to the start (frozen), in ms. */
  get offset(): number {
    return this.offsetMs;
  }

  /** Calls `fire` once `now()` reaches `at` (at once when it already has); returns a cancel function. */
  schedule(at: Date, fire: () => void): () => void {
    const entry: Scheduled = { at: at.getTime(), fire };
    this.scheduled.add(entry);
    this.arm(entry);
    return () => {
      clearTimeout(entry.handle);
      this.scheduled.delete(entry);
    };
  }

  /**
   * Moves time forward by `ms` and fires every timer now due, earliest first.
   * @throws Error on the system clock, which only real time moves
   */
  advance(ms: number): void {
    if (this.mode === 'system')
      throw new Error('the system clock cannot be advanced; set LOCAL_DURABLE_CLOCK=manual');
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`can only advance by a non-negative number of ms, got ${ms}`);
    this.offsetMs += ms;
    const due = [...this.scheduled].sort((a, b) => a.at - b.at);
    for (const entry of due) {
      clearTimeout(entry.handle);
      this.arm(entry);
    }
  }

  /** Forgets every scheduled timer (shutdown). */
  clear(): void {
    for (const entry of this.scheduled) clearTimeout(entry.handle);
    this.scheduled.clear();
  }

  private arm(entry: Scheduled): void {
    const wait = entry.at - this.nowMs();
    if (wait <= 0) {
      this.scheduled.delete(entry);
      entry.fire();
      return;
    }
    if (this.mode === 'frozen') return; // only advance() moves a frozen clock
    entry.handle = setTimeout(() => this.arm(entry), Math.min(wait, maxTimeoutMs));
    entry.handle.unref?.();
  }
}
