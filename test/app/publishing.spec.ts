import { describe, expect, it } from 'vitest';
import {
  DeliveryAttempt,
  isLastAttempt,
  parkedLetterId,
  publishCommits,
  replayParked,
} from '../../src/app/publishing';
import { CloudEventEnvelope, CloudEventPublisher, PublishRejectedError } from '../../src/ports/cloudEvents';
import { DeadLetterRecord, DeadLetterStore } from '../../src/ports/deadLetters';
import { CommitDocument, commitId } from '../../src/ports/eventStore';

// Pure logic of the relay: a fake topic and an in-memory dead-letter store stand in for Event Grid and Storage.
// The same rules over the real SDK, the local host and a topic server: test/eventgrid/poisonEvents.spec.ts.

const options = { source: '/test', typePrefix: 'com.test.orders', schemaBaseUrl: 'http://test' };

/** A commit of `count` OrderCancelled events (any readable type will do) from version `i` on. */
function commit(orderId: string, i: number, count = 1): CommitDocument {
  return {
    id: commitId(i),
    orderId,
    kind: 'commit',
    i,
    n: i + count,
    e: Array.from({ length: count }, (_, k) => ({
      type: 'OrderCancelled',
      schemaVersion: 1,
      data: { reason: `r${i + k + 1}` },
      occurredAt: '2024-05-01T10:00:00.000Z',
      metadata: {},
    })),
    recordedAt: '2024-05-01T10:00:00.000Z',
  };
}

/**
 * A topic: `refuse(id)` true makes any request holding that event fail with 413 (as Event Grid does for a
 * request over 1 MB); `down` makes every request fail with a transient error.
 */
function fakeTopic(refuse: (id: string) => boolean = () => false) {
  const accepted: string[] = [];
  const requests: string[][] = [];
  const topic = {
    down: false,
    accepted,
    requests,
    publish: async (batch: CloudEventEnvelope[]) => {
      requests.push(batch.map((e) => e.id));
      if (topic.down) throw new Error('connect ECONNREFUSED');
      if (batch.some((e) => refuse(e.id))) throw new PublishRejectedError(413, 'request too large');
      accepted.push(...batch.map((e) => e.id));
    },
  } satisfies CloudEventPublisher & Record<string, unknown>;
  return topic;
}

class MemoryDeadLetters implements DeadLetterStore {
  readonly channels = new Map<string, Map<string, DeadLetterRecord>>();
  async put(channel: string, id: string, record: DeadLetterRecord) {
    if (!this.channels.has(channel)) this.channels.set(channel, new Map());
    this.channels.get(channel)!.set(id, structuredClone(record));
  }
  async list(channel: string) {
    const letters = this.channels.get(channel) ?? new Map<string, DeadLetterRecord>();
    return [...letters.keys()].sort().map((id) => letters.get(id)!);
  }
  async delete(channel: string, id: string) {
    this.channels.get(channel)?.delete(id);
  }
  ids(channel: string) {
    return [...(this.channels.get(channel)?.keys() ?? [])].sort();
  }
}

function quietLog() {
  const lines: string[] = [];
  return {
    lines,
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  };
}

const attempt = (retryCount: number, maxRetryCount = 12): DeliveryAttempt => ({ retryCount, maxRetryCount });

describe('publishCommits: a batch the topic refuses for good', () => {
  it('dead-letters only the refused event, with reason, status and event, and publishes every other one in order', async () => {
    const topic = fakeTopic((id) => id === 'o-1:3');
    const letters = new MemoryDeadLetters();
    const log = quietLog();
    const docs = [commit('o-1', 0, 2), commit('o-1', 2, 3), commit('o-2', 0, 1), { kind: 'head' }];

    const result = await publishCommits(docs, options, topic, letters, log, attempt(0));

    expect(result).toEqual({ published: 5, deadLettered: 1, parked: 0 });
    expect(topic.accepted).toEqual(['o-1:1', 'o-1:2', 'o-1:4', 'o-1:5', 'o-2:1']);
    expect(letters.ids('publisher')).toEqual(['o-1:3']);
    const [letter] = await letters.list('publisher');
    expect(letter.lastStatus).toBe(413);
    expect(letter.reason).toMatch(/refused the event for good.*request too large/);
    expect((letter.event as CloudEventEnvelope).id).toBe('o-1:3');
    expect((letter.event as CloudEventEnvelope).data).toEqual({ reason: 'r3' });
    expect(log.lines.some((l) => l.startsWith('warn dead-lettered CloudEvent o-1:3'))).toBe(true);
    expect(letters.ids('parked')).toEqual([]);
  });

  it('finds several culprits in one batch and keeps the order of the rest', async () => {
    const refused = new Set(['a:1', 'a:6', 'a:7']);
    const topic = fakeTopic((id) => refused.has(id));
    const letters = new MemoryDeadLetters();

    const result = await publishCommits([commit('a', 0, 8)], options, topic, letters, quietLog(), attempt(0));

    expect(result.deadLettered).toBe(3);
    expect(topic.accepted).toEqual(['a:2', 'a:3', 'a:4', 'a:5', 'a:8']);
    expect(letters.ids('publisher')).toEqual(['a:1', 'a:6', 'a:7']);
  });

  it('publishes each half of a batch the topic refused as a whole although no event alone is refused', async () => {
    let refusedOnce = false;
    const topic = fakeTopic();
    const publish = topic.publish;
    const publisher: CloudEventPublisher = {
      publish: async (batch) => {
        if (!refusedOnce && batch.length > 1) {
          refusedOnce = true;
          throw new PublishRejectedError(413, 'request over 1 MB');
        }
        await publish(batch);
      },
    };
    const letters = new MemoryDeadLetters();

    const result = await publishCommits(
      [commit('b', 0, 4)],
      options,
      publisher,
      letters,
      quietLog(),
      attempt(0),
    );

    expect(result).toEqual({ published: 4, deadLettered: 0, parked: 0 });
    expect(topic.accepted).toEqual(['b:1', 'b:2', 'b:3', 'b:4']);
  });
});

describe('publishCommits: a topic that fails transiently', () => {
  it('throws before the last attempt, so the trigger retries and nothing is parked', async () => {
    const topic = fakeTopic();
    topic.down = true;
    const letters = new MemoryDeadLetters();

    for (const run of [attempt(0), attempt(5), attempt(11)]) {
      await expect(
        publishCommits([commit('c', 0, 2)], options, topic, letters, quietLog(), run),
      ).rejects.toThrow(/ECONNREFUSED/);
    }
    await expect(
      publishCommits([commit('c', 0, 2)], options, topic, letters, quietLog(), attempt(3, -1)),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(letters.ids('parked')).toEqual([]);
  });

  it('parks every commit of the batch on the last attempt, one letter per commit, logs it and returns', async () => {
    const topic = fakeTopic();
    topic.down = true;
    const letters = new MemoryDeadLetters();
    const log = quietLog();
    const docs = [commit('d', 0, 1), commit('d', 1, 2), commit('e', 0, 1)];

    const result = await publishCommits(docs, options, topic, letters, log, attempt(12));

    expect(result).toEqual({ published: 0, deadLettered: 0, parked: 3 });
    expect(letters.ids('parked')).toEqual(['d:0', 'd:1', 'e:0']);
    const parked = await letters.list('parked');
    expect(parked[1].event).toEqual(docs[1]);
    expect(parked[1].reason).toMatch(/not published after 13 attempt\(s\): Error: connect ECONNREFUSED/);
    expect(parked[1].attempts).toBe(13);
    expect(log.lines.find((l) => l.startsWith('error parked 3 commit(s)'))).toMatch(/d:0, d:1, e:0/);
  });

  it('parks on the only run when there is no retry context (no retry policy: nothing would follow)', async () => {
    const topic = fakeTopic();
    topic.down = true;
    const letters = new MemoryDeadLetters();

    const result = await publishCommits([commit('f', 0)], options, topic, letters, quietLog(), undefined);

    expect(result.parked).toBe(1);
    expect(letters.ids('parked')).toEqual(['f:0']);
  });

  it('parks only the commits not yet published when the topic fails half-way', async () => {
    const topic = fakeTopic();
    const letters = new MemoryDeadLetters();
    // Batches are cut under 1 MB: three commits of about 400 KB each need two requests.
    const big = (orderId: string) => {
      const c = commit(orderId, 0);
      c.e[0].data = { reason: 'x'.repeat(400_000) };
      return c;
    };
    let requests = 0;
    const publisher: CloudEventPublisher = {
      publish: async (batch) => {
        if (++requests > 1) topic.down = true;
        await topic.publish(batch);
      },
    };

    const result = await publishCommits(
      [big('g1'), big('g2'), big('g3')],
      options,
      publisher,
      letters,
      quietLog(),
      attempt(12),
    );

    expect(topic.accepted).toEqual(['g1:1', 'g2:1']);
    expect(result).toEqual({ published: 2, deadLettered: 0, parked: 1 });
    expect(letters.ids('parked')).toEqual(['g3:0']);
  });

  it('throws and names the unpublished commits when parking itself fails on the last attempt', async () => {
    const topic = fakeTopic();
    topic.down = true;
    const letters = new MemoryDeadLetters();
    letters.put = async () => {
      throw new Error('storage unavailable');
    };
    const log = quietLog();

    await expect(publishCommits([commit('m', 0)], options, topic, letters, log, attempt(12))).rejects.toThrow(
      /storage unavailable/,
    );
    expect(log.lines.find((l) => l.startsWith('error could not park 1 commit(s)'))).toMatch(
      /m:0 are NOT published/,
    );
  });

  it('tells the last attempt as the Functions host counts it: retryCount = maxRetryCount, never with -1', () => {
    expect(isLastAttempt(attempt(11, 12))).toBe(false);
    expect(isLastAttempt(attempt(12, 12))).toBe(true);
    expect(isLastAttempt(attempt(0, 0))).toBe(true);
    expect(isLastAttempt(attempt(1000, -1))).toBe(false);
    expect(isLastAttempt(undefined)).toBe(true);
  });
});

describe('replayParked', () => {
  it('publishes parked commits per order in version order and deletes each letter once accepted', async () => {
    const letters = new MemoryDeadLetters();
    for (const c of [commit('h', 10), commit('h', 2), commit('i', 0)]) {
      await letters.put('parked', parkedLetterId(c), { reason: 'test', deadLetteredAt: '', event: c });
    }
    const topic = fakeTopic();

    const result = await replayParked(letters, options, topic, quietLog());

    expect(topic.accepted).toEqual(['h:3', 'h:11', 'i:1']);
    expect(result).toMatchObject({ replayed: 3, published: 3, deadLettered: 0, failed: [], notAttempted: 0 });
    expect(letters.ids('parked')).toEqual([]);
  });

  it('keeps a failed commit and the later commits of its order parked, and goes on with other orders', async () => {
    const letters = new MemoryDeadLetters();
    for (const c of [commit('j', 0), commit('j', 1), commit('k', 0)]) {
      await letters.put('parked', parkedLetterId(c), { reason: 'test', deadLetteredAt: '', event: c });
    }
    const topic = fakeTopic();
    const publisher: CloudEventPublisher = {
      publish: async (batch) => {
        if (batch.some((e) => e.id === 'j:1')) throw new Error('503 Service Unavailable');
        await topic.publish(batch);
      },
    };

    const result = await replayParked(letters, options, publisher, quietLog());

    expect(topic.accepted).toEqual(['k:1']);
    expect(result.replayed).toBe(1);
    expect(result.failed).toEqual([{ id: 'j:0', reason: 'Error: 503 Service Unavailable' }]);
    expect(result.notAttempted).toBe(1);
    expect(letters.ids('parked')).toEqual(['j:0', 'j:1']);
  });
});
