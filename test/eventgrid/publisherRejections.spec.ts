import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventGridCloudEventPublisher } from '../../src/adapters/eventgrid/eventGridPublisher';
import { CloudEventEnvelope, PublishRejectedError } from '../../src/ports/cloudEvents';
import { startSubscriber } from '../support/subscriber';

// The real @azure/eventgrid client against a test topic server answering the status the path names.

let topic: Awaited<ReturnType<typeof startSubscriber>>;
beforeAll(async () => {
  const answer = (status: number) => () => ({ status });
  topic = await startSubscriber({
    '/400/api/events': answer(400),
    '/413/api/events': answer(413),
    '/500/api/events': answer(500),
    '/401/api/events': answer(401),
  });
});
afterAll(async () => {
  await topic?.close();
});

const event: CloudEventEnvelope = {
  specversion: '1.0',
  id: 'o-1:1',
  source: '/test',
  type: 'com.test.orders.OrderCancelled.v1',
  subject: 'orders/o-1',
  time: '2024-05-01T10:00:00.000Z',
  datacontenttype: 'application/json',
  dataschema: 'http://test/api/schemas/events/OrderCancelled/1',
  data: { reason: 'r' },
  orderversion: 1,
};

const publishTo = (status: number) =>
  new EventGridCloudEventPublisher({
    endpoint: `${topic.base}/${status}/api/events`,
    key: 'test-key',
    timeoutMs: 30_000,
    maxRetries: 0,
  })
    .publish([event])
    .catch((e: unknown) => e);

describe('the Event Grid publisher on a refusal', () => {
  it.each([400, 413])(
    'maps HTTP %i (refused for good) to PublishRejectedError with the status',
    async (status) => {
      const err = await publishTo(status);
      expect(err).toBeInstanceOf(PublishRejectedError);
      expect(err).toMatchObject({ status });
      expect((err as Error).cause).toMatchObject({ name: 'RestError', statusCode: status });
    },
  );

  it.each([500, 401])('leaves HTTP %i as the SDK error (transient)', async (status) => {
    const err = await publishTo(status);
    expect(err).not.toBeInstanceOf(PublishRejectedError);
    expect(err).toMatchObject({ name: 'RestError', statusCode: status });
  });
});
