/**
 * Runs tasks one after another per key, tasks of different keys side by side. A task starts once the one
 * queued before it under its key has settled (resolved or rejected); keys are held in a Map, never as keys of a
 * plain object. A key's entry is dropped once its queue is empty, so memory follows the keys in use.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after the tasks queued under `key` before it; settles as `task` does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    const result = before ? before.then(task) : task();
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
