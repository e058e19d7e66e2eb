import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryToReplay, replayHistories, replayHistory } from '../../src/app/history';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { OrderCommand } from '../../src/domain/decider';

/**
 * The import's group commit (`replayHistories`) against replaying each order alone through `handle`
 * (`replayHistory`): the same streams, the same results, on the embedded store.
 */
const at = (day: number) => `2018-01-${String(day).padStart(2, '0')}T10:00:00.000Z`;
const line = (productId: string, unitPrice: string) => ({
  productId,
  quantity: 1,
  unitPrice,
  currency: 'BRL' as const,
  sellerId: 's-1',
});

/** Order `id`'s history: created, two lines (the second product twice at another price: refused), submitted, accepted. */
function history(id: string): HistoryToReplay {
  const commands: OrderCommand[] = [
    { type: 'CreateOrder', customerId: `c-${id}`, occurredAt: at(1), history: true },
    { type: 'AddProduct', line: line('p-1', '10.00'), occurredAt: at(1), history: true },
    { type: 'AddProduct', line: line('p-2', '5.00'), occurredAt: at(1), history: true },
    { type: 'AddProduct', line: line('p-2', '6.00'), occurredAt: at(1), history: true },
    // Changes nothing: no event, no commit.
    { type: 'CreateOrder', customerId: `c-${id}`, occurredAt: at(1), history: true },
    { type: 'SubmitOrder', occurredAt: at(2), history: true },
    { type: 'AcceptOrder', occurredAt: at(3), history: true },
  ];
  return { orderId: id, commands, metadata: { actor: 'import:test', correlationId: id } };
}

const open = () => createServices(readSettings({ DATA_DIR: ':memory:', EVENT_STORE: 'sqlite', PORT: '0' }));

/** Every commit of the store, in feed order, without the time it was recorded. */
async function commits(services: Services) {
  const page = await services.store.readFeed(undefined, 1000);
  return page.commits.map(({ recordedAt: _recorded, ...commit }) => commit);
}

describe('group commit of imported history', () => {
  let grouped: Services;
  let alone: Services;

  beforeEach(() => {
    grouped = open();
    alone = open();
  });

  afterEach(async () => {
    await grouped.close();
    await alone.close();
  });

  it('writes the same commits, heads and results as replaying each order alone through handle', async () => {
    const histories = ['o-1', 'o-2', 'o-3'].map(history);
    // o-2 exists with its first two commands already (an import stopped half-way): the rest is written.
    for (const services of [grouped, alone]) {
      for (const command of histories[1].commands.slice(0, 2)) {
        await services.orders.handle('o-2', command, { metadata: histories[1].metadata });
      }
    }
    const results = await replayHistories(grouped.orders, histories);
    const expected = [];
    for (const h of histories)
      expected.push(await replayHistory(alone.orders, h.orderId, h.commands, h.metadata));
    expect(results).toEqual(expected);
    expect(results[0]).toMatchObject({ outcome: 'imported', commandsSent: 7, eventsAppended: 5 });
    expect(results[0].refused).toEqual([expect.stringMatching(/^order o-1: AddProduct refused \(invalid\)/)]);
    expect(results[1]).toMatchObject({ storedVersion: 2, commandsSent: 5, eventsAppended: 3 });
    expect(await commits(grouped)).toEqual(await commits(alone));
    for (const id of ['o-1', 'o-2', 'o-3']) {
      expect(await grouped.store.readHead(id)).toEqual(await alone.store.readHead(id));
      expect((await grouped.orders.current(id)).source).toBe('snapshot');
    }
  });

  it('appends nothing for orders already complete and leaves an order that differs alone', async () => {
    const histories = ['o-1', 'o-2'].map(history);
    await replayHistories(grouped.orders, histories);
    await grouped.orders.handle('o-3', { type: 'CreateOrder', customerId: 'someone-else' });
    const again = await replayHistories(grouped.orders, [...histories, history('o-3')]);
    expect(again.map((r) => [r.outcome, r.commandsSent, r.eventsAppended])).toEqual([
      ['alreadyPresent', 0, 0],
      ['alreadyPresent', 0, 0],
      ['differs', 0, 0],
    ]);
    expect((await grouped.store.readStream('o-3')).version).toBe(1);
  });

  it('writes an order listed twice in one batch once, the second reading as already present', async () => {
    const results = await replayHistories(grouped.orders, [history('o-1'), history('o-1')]);
    expect(results.map((r) => [r.outcome, r.commandsSent, r.eventsAppended])).toEqual([
      ['imported', 7, 5],
      ['alreadyPresent', 0, 0],
    ]);
    expect((await grouped.store.readStream('o-1')).version).toBe(5);
  });

  it('replays an order alone when another writer commits to it between its read and the group commit', async () => {
    const h = history('o-1');
    // Another writer creates the order exactly as the import would, after the import read it.
    const racing = {
      current: grouped.orders.current.bind(grouped.orders),
      load: grouped.orders.load.bind(grouped.orders),
      handle: grouped.orders.handle.bind(grouped.orders),
      appendDecided: async (...args: Parameters<Services['orders']['appendDecided']>) => {
        await grouped.orders.handle('o-1', h.commands[0], { metadata: h.metadata });
        return grouped.orders.appendDecided(...args);
      },
    };
    const [result] = await replayHistories(racing, [h]);
    expect(result).toMatchObject({ outcome: 'imported', eventsAppended: 4, commandsSent: 6 });
    const expected = await replayHistory(alone.orders, h.orderId, h.commands, h.metadata);
    expect((await grouped.store.readStream('o-1')).events.map((e) => [e.type, e.version])).toEqual(
      (await alone.store.readStream('o-1')).events.map((e) => [e.type, e.version]),
    );
    expect(result.refused).toEqual(expected.refused);
  });
});
