import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricDefinition, metricDefinitions } from '../../src/shared/telemetryNames';
import { authAs, call, eventually, startTestHost, TestHost } from '../support/host';
import { OtlpReceiver, ReceivedSpan, spanKinds } from './otlpReceiver';

/*
 * Point 2 of issue 11, proved through the local host as `npm start` runs it: the host in its own process
 * (signal handling, the functions core, the change feed, the topic and the durable runtime), telemetry on
 * because OTEL_EXPORTER_OTLP_ENDPOINT names the receiver of this test, which keeps what the real OTLP/HTTP
 * exporters send in memory. (The SDK's in-memory span exporter would need the host inside the test process;
 * this way the exporters, their start-up order and the shutdown flush are the ones a user runs.)
 *
 * One order: create, add an item, submit. Each HTTP command is one trace; the submit's trace must show the
 * whole story (HTTP → decide → append → change feed → publish → acceptance activities → their appends →
 * change feed → publish → the notification consumer), the add-item's the stock-check consumer.
 */

let receiver: OtlpReceiver;
let host: TestHost;
let customer: Record<string, string>;
const customerId = `cust-trace-${Date.now()}`;
const orderId = `trace-${Date.now()}`;
const changeFeedFunctions = [
  'eventGridRelay',
  'orderAcceptanceStarter',
  'orderReadModelProjection',
  'stockRelease',
];

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  host = await startTestHost({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    LOG_LEVEL: 'debug',
    STOCK_LEVELS: '{"sku-trace": 100}',
  });
  customer = authAs(await host.token({ sub: customerId, roles: [] }));
});

afterAll(async () => {
  await host?.stop();
  await receiver?.close();
});

/** The span of `trace` named `name` (exactly one). */
const one = (trace: ReceivedSpan[], name: string, where: (s: ReceivedSpan) => boolean = () => true) => {
  const found = trace.filter((s) => s.name === name && where(s));
  expect(
    found.map((s) => s.name),
    `one span ${name} in ${trace.map((s) => s.name).join(', ')}`,
  ).toEqual([name]);
  return found[0];
};
const linksTo = (span: ReceivedSpan, target: ReceivedSpan) =>
  span.links.some((l) => l.traceId === target.traceId && l.spanId === target.spanId);
/** The trace of the HTTP request span `METHOD route` whose path is `path`. */
const traceOf = (name: string, path: string) =>
  receiver.spans.find(
    (s) => s.kind === spanKinds.server && s.name === name && s.attributes['url.path'] === path,
  )?.traceId;
/** Spans end (and are exported) children first: a trace is complete once every parent has arrived too. */
const rootsOf = (trace: ReceivedSpan[]) => {
  const ids = new Set(trace.map((s) => s.spanId));
  return trace.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
};
/** The spans of a trace, once it holds spans of each of `names` and is connected. */
const spansWaitedFor = (traceId: string, names: string[]) =>
  eventually(async () => {
    const trace = receiver.trace(traceId);
    const have = new Set(trace.map((s) => s.name));
    return names.every((n) => have.has(n)) && rootsOf(trace).length === 1 ? trace : undefined;
  });

describe('one order, traced through the local host to an OTLP receiver', () => {
  let created: ReceivedSpan[];
  let added: ReceivedSpan[];
  let submitted: ReceivedSpan[];

  beforeAll(async () => {
    // Each command waits for its trace's downstream work, so no change-feed batch mixes two commands.
    expect((await call(host, 'POST', '/api/orders', { orderId }, customer)).status).toBe(201);
    const createTrace = await eventually(async () => traceOf('POST /api/orders', '/api/orders'));
    created = await spansWaitedFor(createTrace, [
      ...changeFeedFunctions.map((f) => `changefeed ${f}`),
      'send eventgrid',
    ]);

    const line = { productId: 'sku-trace', quantity: 2, unitPrice: '10.00', currency: 'EUR' };
    expect((await call(host, 'POST', `/api/orders/${orderId}/items`, line, customer)).status).toBe(200);
    const addTrace = await eventually(async () =>
      traceOf('POST /api/orders/{orderId}/items', `/api/orders/${orderId}/items`),
    );
    added = await spansWaitedFor(addTrace, [
      ...changeFeedFunctions.map((f) => `changefeed ${f}`),
      'process stockCheck',
    ]);

    expect((await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, customer)).status).toBe(202);
    const submitTrace = await eventually(async () =>
      traceOf('POST /api/orders/{orderId}/submit', `/api/orders/${orderId}/submit`),
    );
    submitted = await spansWaitedFor(submitTrace, [
      'orderAcceptance-validate',
      'orderAcceptance-reserveStock',
      'orderAcceptance-accept',
      'process customerNotifications',
    ]);
  });

  it('makes each command one connected trace: every span but the request span has its parent in the trace', () => {
    for (const trace of [created, added, submitted]) {
      const roots = rootsOf(trace);
      expect(roots.map((s) => s.name)).toEqual([expect.stringMatching(/^POST \/api\/orders/)]);
      expect(roots[0].kind).toBe(spanKinds.server);
    }
  });

  it('traces the HTTP command: request span → the function span with route, order, command, outcome and status → decide → append', () => {
    const request = one(submitted, 'POST /api/orders/{orderId}/submit');
    expect(request.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/orders/{orderId}/submit',
      'http.response.status_code': 202,
    });
    const fn = one(submitted, 'submitOrder');
    expect(fn.parentSpanId).toBe(request.spanId);
    expect(fn.attributes).toMatchObject({
      'http.route': '/api/orders/{orderId}/submit',
      'orders.order_id': orderId,
      'orders.command.type': 'SubmitOrder',
      'orders.command.outcome': 'appended',
      'http.response.status_code': 202,
    });
    const decide = one(submitted, 'decide SubmitOrder');
    expect(decide.parentSpanId).toBe(fn.spanId);
    expect(decide.attributes).toMatchObject({
      'orders.stream.expected_version': 2,
      'orders.commit.event_count': 1,
    });
    const append = one(submitted, 'append events', (s) => s.parentSpanId === fn.spanId);
    expect(append.kind).toBe(spanKinds.client);
    expect(append.attributes).toMatchObject({
      'db.system.name': 'sqlite',
      'db.operation.name': 'append',
      'orders.order_id': orderId,
      'orders.stream.version': 3,
    });
    expect(decide.startNanos).toBeLessThan(append.startNanos);
  });

  it('continues the trace in every change-feed function, each batch span linked to the commit it carries', () => {
    const append = one(
      submitted,
      'append events',
      (s) => s.parentSpanId === one(submitted, 'submitOrder').spanId,
    );
    for (const fn of changeFeedFunctions) {
      const batch = one(submitted, `changefeed ${fn}`, (s) => s.parentSpanId === append.spanId);
      expect(batch.kind).toBe(spanKinds.consumer);
      expect(linksTo(batch, append), `${fn} links the commit`).toBe(true);
      expect(batch.attributes['orders.changefeed.consumer']).toBe(fn);
      expect(batch.attributes['messaging.batch.message_count']).toBeGreaterThanOrEqual(1);
      expect(batch.links.find((l) => l.spanId === append.spanId)?.attributes).toMatchObject({
        'orders.order_id': orderId,
        'orders.stream.version': 3,
      });
    }
  });

  it('publishes to Event Grid in a producer span under the relay batch, with the batch size and bytes', () => {
    const fn = one(submitted, 'submitOrder');
    const append = one(submitted, 'append events', (s) => s.parentSpanId === fn.spanId);
    const relay = one(submitted, 'changefeed eventGridRelay', (s) => s.parentSpanId === append.spanId);
    const send = one(submitted, 'send eventgrid', (s) => s.parentSpanId === relay.spanId);
    expect(send.kind).toBe(spanKinds.producer);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'eventgrid',
      'messaging.operation.name': 'send',
    });
    expect(send.attributes['messaging.batch.message_count']).toBeGreaterThanOrEqual(1);
    expect(send.attributes['http.request.body.size']).toBeGreaterThan(200);
    expect(linksTo(send, append)).toBe(true);
  });

  it('runs the acceptance activities in the submit trace, under the starter batch, and no span for the orchestrator', () => {
    const fn = one(submitted, 'submitOrder');
    const append = one(submitted, 'append events', (s) => s.parentSpanId === fn.spanId);
    const starter = one(
      submitted,
      'changefeed orderAcceptanceStarter',
      (s) => s.parentSpanId === append.spanId,
    );
    for (const activity of [
      'orderAcceptance-validate',
      'orderAcceptance-reserveStock',
      'orderAcceptance-accept',
    ]) {
      const span = one(submitted, activity);
      expect(span.parentSpanId, activity).toBe(starter.spanId);
      expect(span.attributes).toMatchObject({
        'orders.order_id': orderId,
        'orders.acceptance.instance_id': `acceptance-${orderId}`,
      });
    }
    const accept = one(submitted, 'orderAcceptance-accept');
    one(submitted, 'decide AcceptOrder', (s) => s.parentSpanId === accept.spanId);
    one(submitted, 'append events', (s) => s.parentSpanId === accept.spanId);
    // The orchestrator replays on every event: it makes no span, in any trace.
    expect(receiver.spans.filter((s) => s.name === 'orderAcceptance')).toEqual([]);
  });

  it('processes each consumer delivery in a consumer span linked to the CloudEvent traceparent, in the command trace', () => {
    const accept = one(submitted, 'orderAcceptance-accept');
    const acceptAppend = one(submitted, 'append events', (s) => s.parentSpanId === accept.spanId);
    const notify = one(submitted, 'process customerNotifications');
    expect(notify.kind).toBe(spanKinds.consumer);
    expect(notify.parentSpanId).toBe(acceptAppend.spanId);
    expect(linksTo(notify, acceptAppend)).toBe(true);
    expect(notify.attributes).toMatchObject({
      'messaging.system': 'eventgrid',
      'messaging.operation.type': 'process',
      'messaging.destination.subscription.name': 'customerNotifications',
      'cloudevents.event_type': 'com.contoso.orders.OrderAccepted.v1',
      'cloudevents.event_id': `${orderId}:5`,
      'cloudevents.event_subject': `orders/${orderId}`,
      'cloudevents.event_spec_version': '1.0',
      'orders.consumer.outcome': 'applied',
    });

    const addFn = one(added, 'addOrderItem');
    const addAppend = one(added, 'append events', (s) => s.parentSpanId === addFn.spanId);
    const stock = one(added, 'process stockCheck');
    expect(stock.parentSpanId).toBe(addAppend.spanId);
    expect(linksTo(stock, addAppend)).toBe(true);
    expect(stock.attributes).toMatchObject({
      'cloudevents.event_type': 'com.contoso.orders.ProductAddedToOrder.v1',
      'cloudevents.event_id': `${orderId}:2`,
      'orders.consumer.outcome': 'applied',
    });
  });

  it('puts no personal data on spans: the customer id appears in no attribute, link or status', () => {
    const text = JSON.stringify(
      receiver.spans.map((s) => [s.name, s.attributes, s.links, s.status]),
      (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v),
    );
    expect(text).toContain(orderId);
    expect(text).not.toContain(customerId);
    expect(text).not.toMatch(/Bearer|aeg-sas-key/i);
  });
});

describe('metrics and logs of the same run', () => {
  beforeAll(async () => {
    // Stopping the host exports what its SDK still holds (the final metric export).
    await host.stop();
  });

  const attrsOf = (metric: string) => receiver.latest(metric).map((p) => p.attributes);

  it('exports only declared metrics, and each of the flow: commands, appends, lags, publishes, consumers, acceptances, deliveries', () => {
    const declared = new Map<string, MetricDefinition>(
      Object.values(metricDefinitions).map((d) => [d.name, d]),
    );
    const received = [...new Set(receiver.points.map((p) => p.metric))];
    expect(received.filter((name) => !declared.has(name))).toEqual([]);
    const setAside: string[] = [
      metricDefinitions.publisherDeadLettered.name,
      metricDefinitions.publisherParked.name,
    ];
    expect([...declared.keys()].filter((n) => !setAside.includes(n) && !received.includes(n))).toEqual([]);
    for (const name of received) {
      const d = declared.get(name)!;
      for (const p of receiver.latest(name)) {
        expect(p.unit, name).toBe(d.unit);
        expect(
          Object.keys(p.attributes).filter((k) => !d.attributes.includes(k)),
          name,
        ).toEqual([]);
      }
    }

    const commands = receiver.latest(metricDefinitions.commandDuration.name);
    for (const type of ['CreateOrder', 'AddProduct', 'SubmitOrder', 'ReserveStock', 'AcceptOrder']) {
      const point = commands.find(
        (p) =>
          p.attributes['orders.command.type'] === type &&
          p.attributes['orders.command.outcome'] === 'appended',
      );
      expect(point?.count, type).toBeGreaterThanOrEqual(1);
    }
    expect(attrsOf(metricDefinitions.appendDuration.name)).toContainEqual({
      'db.system.name': 'sqlite',
      'db.operation.name': 'append',
      'db.collection.name': 'events',
    });
    expect(receiver.latest(metricDefinitions.changeFeedLag.name)[0]?.count).toBeGreaterThanOrEqual(5);
    // Every change-feed function records its lag (these four, and any other the app registers).
    expect(
      attrsOf(metricDefinitions.changeFeedConsumerLag.name).map((a) => a['orders.changefeed.consumer']),
    ).toEqual(expect.arrayContaining(changeFeedFunctions));
    expect(attrsOf(metricDefinitions.eventsSent.name)).toContainEqual({
      'messaging.system': 'eventgrid',
      'messaging.operation.name': 'send',
    });
    const processed = attrsOf(metricDefinitions.consumerDuration.name);
    expect(processed).toContainEqual(
      expect.objectContaining({
        'messaging.destination.subscription.name': 'stockCheck',
        'orders.consumer.outcome': 'applied',
      }),
    );
    expect(processed).toContainEqual(
      expect.objectContaining({
        'messaging.destination.subscription.name': 'customerNotifications',
        'cloudevents.event_type': 'com.contoso.orders.OrderAccepted.v1',
      }),
    );
    expect(attrsOf(metricDefinitions.acceptanceDuration.name)).toEqual([
      { 'orders.acceptance.outcome': 'accepted' },
    ]);
    expect(attrsOf(metricDefinitions.localDeliveries.name)).toContainEqual({
      'messaging.destination.subscription.name': 'function-stockCheck',
      'eventgrid.destination.kind': 'function',
      'eventgrid.delivery.outcome': 'delivered',
    });
  });

  it('gives every log record of an invocation the trace and span id of a span of its trace, in OTLP and in the host log', () => {
    const spanIds = new Set(receiver.spans.map((s) => `${s.traceId}/${s.spanId}`));
    const records = receiver.logs.filter(
      (l) =>
        typeof l.body === 'string' && /read model:|published \d+ CloudEvents|acceptance started/.test(l.body),
    );
    expect(records.length).toBeGreaterThanOrEqual(5);
    for (const r of records) expect(spanIds.has(`${r.traceId}/${r.spanId}`), String(r.body)).toBe(true);
    expect(receiver.logs.filter((l) => !l.traceId || !l.spanId)).toEqual([]);

    const lines = host.logs.join('').split('\n');
    const invocationLines = lines.filter((l) =>
      / \[(orderReadModelProjection|eventGridRelay|orderAcceptanceStarter)\] /.test(l),
    );
    expect(invocationLines.length).toBeGreaterThanOrEqual(5);
    for (const line of invocationLines) {
      const m = / trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16}) /.exec(line);
      expect(m, line).not.toBeNull();
      expect(spanIds.has(`${m![1]}/${m![2]}`), line).toBe(true);
    }
    expect(host.logs.join('')).not.toContain(customerId);
  });
});
