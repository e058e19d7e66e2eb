import { EventStore, eventsOfCommit, RecordedEvent } from '../ports/eventStore';

/**
 * Every recorded event of the store, read from the global feed from its beginning in pages of `pageSize`
 * commits (default 1,000): each order's events in version order, orders interleaved as they were committed.
 * `onPage` hears the running count of commits and events after each page (for a progress bar).
 */
export async function* readEventLog(
  store: Pick<EventStore, 'readFeed'>,
  options: { pageSize?: number; onPage?: (progress: { commits: number; events: number }) => void } = {},
): AsyncGenerator<RecordedEvent> {
  const pageSize = options.pageSize ?? 1000;
  let position: string | undefined;
  let commits = 0;
  let events = 0;
  for (;;) {
    const page = await store.readFeed(position, pageSize);
    if (page.commits.length === 0) return;
    for (const commit of page.commits) {
      commits++;
      for (const e of eventsOfCommit(commit)) {
        events++;
        yield e;
      }
    }
    position = page.position;
    options.onPage?.({ commits, events });
  }
}

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
