import * as df from 'durable-functions';
import { HttpRequest } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, HistoryEvent, isType } from '../../src/local/durable/history';
import { DurableHarness, startDurableHarness } from '../support/durableHarness';

/*
 * The local durable runtime against the library's replay engine, with orchestrators written to probe it:
 * fan-out of retried activities, retry timeouts, non-determinism, long timers, unsupported actions and the
 * DurableClient's HTTP surface. Time is a frozen clock moved by the tests.
 */

const attempts = new Map<string, number>();
let nondeterministicRuns = 0;

function register(): void {
  df.app.activity('probe-flaky', {
    handler: (input: { key: string; failures: number }) => {
      const n = (attempts.get(input.key) ?? 0) + 1;
      attempts.set(input.key, n);
      if (n <= input.failures) throw new Error(`${input.key} failed on attempt ${n}`);
      return input.key.toUpperCase();
    },
  });
  df.app.activity('probe-echo', { handler: (input: unknown) => ({ echoed: input }) });
  df.app.activity('probe-otherEcho', { handler: (input: unknown) => ({ other: input }) });
  df.app.activity('probe-alwaysFails', {
    handler: (input: { key: string }) => {
      attempts.set(input.key, (attempts.get(input.key) ?? 0) + 1);
      throw new Error('the service is down');
    },
  });

  df.app.orchestration('probe-fanOutRetry', function* (context) {
    const retry = new df.RetryOptions(1000, 4);
    const results = yield context.df.Task.all([
      context.df.callActivityWithRetry('probe-flaky', retry, { key: 'a', failures: 2 }),
      context.df.callActivityWithRetry('probe-flaky', retry, { key: 'b', failures: 1 }),
      context.df.callActivityWithRetry('probe-flaky', retry, { key: 'c', failures: 0 }),
    ]);
    const after = yield context.df.callActivity('probe-echo', results);
    const last = yield context.df.callActivity('probe-echo', 'last');
    return { after, last };
  });

  df.app.orchestration('probe-retryTimeout', function* (context) {
    const retry = new df.RetryOptions(1000, 5);
    retry.retryTimeoutInMilliseconds = 2500;
    try {
      yield context.df.callActivityWithRetry('probe-alwaysFails', retry, { key: context.df.instanceId });
      return { caught: null };
    } catch (err) {
      return { caught: err instanceof Error ? err.message : String(err) };
    }
  });

  df.app.orchestration('probe-nondeterministic', function* (context) {
    // Deliberately wrong: a module variable changes what the replay schedules.
    nondeterministicRuns++;
    yield context.df.callActivity(nondeterministicRuns === 1 ? 'probe-echo' : 'probe-otherEcho', 1);
    return 'unreachable';
  });

  df.app.orchestration('probe-longTimer', function* (context) {
    const start = context.df.currentUtcDateTime;
    yield context.df.createTimer(new Date(start.getTime() + 10 * 24 * 3600 * 1000));
    return { start: start.toISOString(), end: context.df.currentUtcDateTime.toISOString() };
  });

  df.app.orchestration('probe-waitsForEvent', function* (context) {
    context.df.setCustomStatus({ waiting: 'go' });
    const data = yield context.df.waitForExternalEvent('go');
    return { input: context.df.getInput(), data };
  });

  df.app.orchestration('probe-throws', function* (context) {
    yield context.df.callActivity('probe-echo', 1);
    throw new Error('the orchestrator gave up');
  });

  df.app.orchestration('probe-subOrchestration', function* (context) {
    yield context.df.callSubOrchestrator('probe-waitsForEvent', {});
  });
}

let h: DurableHarness;
beforeAll(async () => {
  h = await startDurableHarness({ register: async () => register() });
});
afterAll(async () => {
  await h?.stop();
});

let seq = 0;
async function start(name: string, input?: unknown): Promise<string> {
  const instanceId = `${name}-${++seq}`;
  await df.getClient(h.clientContext()).startNew(name, { instanceId, input });
  return instanceId;
}
const statusOf = (id: string) => h.runtime.status(id);
const done = (id: string) => () =>
  ['Completed', 'Failed', 'Terminated'].includes(statusOf(id)?.runtimeStatus ?? '');
const historyOf = (id: string): HistoryEvent[] => h.runtime.store.history(id).map((x) => x.event);

describe('local durable runtime driving the durable-functions replay engine', () => {
  it('keeps task ids aligned when Task.all of retried activities is followed by more activities (#99, #291)', async () => {
    const id = await start('probe-fanOutRetry');
    await h.runUntil(done(id), { stepMs: 1000 });
    expect(statusOf(id)).toMatchObject({
      runtimeStatus: 'Completed',
      output: { after: { echoed: ['A', 'B', 'C'] }, last: { echoed: 'last' } },
    });
    expect(Object.fromEntries(attempts)).toMatchObject({ a: 3, b: 2, c: 1 });
    const history = historyOf(id);
    const scheduled = new Map(
      history.filter((e) => isType(e, EventType.TaskScheduled)).map((e) => [e.EventId, e]),
    );
    const timers = new Set(history.filter((e) => isType(e, EventType.TimerCreated)).map((e) => e.EventId));
    // Every result answers a task of that id, every fired timer a timer of that id; ids are never reused.
    for (const e of history) {
      if (isType(e, EventType.TaskCompleted) || isType(e, EventType.TaskFailed))
        expect(scheduled.has(e.TaskScheduledId)).toBe(true);
      if (isType(e, EventType.TimerFired)) expect(timers.has(e.TimerId)).toBe(true);
    }
    const ids = [...scheduled.keys(), ...timers];
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.max(...ids)).toBe(ids.length - 1);
    const echo = [...scheduled.values()].filter((e) => e.Name === 'probe-echo').map((e) => e.EventId);
    expect(echo).toEqual([ids.length - 2, ids.length - 1]);
  });

  it('surfaces a passed retry timeout as a catchable error instead of stalling (#629)', async () => {
    const id = await start('probe-retryTimeout');
    await h.runUntil(done(id), { stepMs: 1000, maxSteps: 20 });
    expect(statusOf(id)?.runtimeStatus).toBe('Completed');
    expect((statusOf(id)?.output as { caught: string }).caught).toMatch(
      /^RetryTimeoutExceeded: the retry timeout of 2500 ms for 'probe-alwaysFails' passed after 4 attempt\(s\); last error: the service is down$/,
    );
    // Attempts at 0, 1, 2 and 3 s ran; the fifth, past the timeout, failed without running.
    expect(attempts.get(id)).toBe(4);
  });

  it('fails a non-deterministic orchestrator with a message naming the first differing action', async () => {
    const id = await start('probe-nondeterministic');
    await h.runUntil(done(id), { maxSteps: 0 });
    expect(statusOf(id)).toMatchObject({
      runtimeStatus: 'Failed',
      output:
        "Non-deterministic orchestration 'probe-nondeterministic': action #1 of the replay is CallActivity 'probe-otherEcho', " +
        "but the history recorded CallActivity 'probe-echo' (TaskScheduled, task id 0).",
    });
    expect(h.runtime.store.activityRuns(id).map((r) => r.name)).toEqual(['probe-echo']);
  });

  it('splits a timer longer than the maximum short timer into 3-day pieces, as the extension does', async () => {
    const id = await start('probe-longTimer');
    await h.runUntil(done(id), { stepMs: 24 * 3600 * 1000 });
    const output = statusOf(id)?.output as { start: string; end: string };
    expect(statusOf(id)?.runtimeStatus).toBe('Completed');
    expect(Date.parse(output.end) - Date.parse(output.start)).toBe(10 * 24 * 3600 * 1000);
    const pieces = historyOf(id)
      .filter((e) => isType(e, EventType.TimerCreated))
      .map((e) => (Date.parse(e.FireAt) - Date.parse(output.start)) / (24 * 3600 * 1000));
    expect(pieces).toEqual([3, 6, 10]);
  });

  it("fails an orchestrator that throws with its error as the output, not the library's placeholder", async () => {
    const id = await start('probe-throws');
    await h.runUntil(done(id), { maxSteps: 0 });
    expect(statusOf(id)).toMatchObject({
      runtimeStatus: 'Failed',
      output: "Orchestrator function 'probe-throws' failed: the orchestrator gave up",
    });
  });

  it('fails an orchestrator that calls what the runtime does not support, naming it', async () => {
    const id = await start('probe-subOrchestration');
    await h.runUntil(done(id), { maxSteps: 0 });
    expect(statusOf(id)).toMatchObject({
      runtimeStatus: 'Failed',
      output: expect.stringContaining(
        "does not support CallSubOrchestrator 'probe-waitsForEvent' (sub-orchestrations)",
      ),
    });
  });

  it('serves the real DurableClient: startNew, getStatus, createCheckStatusResponse, raiseEvent, terminate, purge', async () => {
    const client = df.getClient(h.clientContext());
    const id = await client.startNew('probe-waitsForEvent', { instanceId: 'client-1', input: { n: 1 } });
    expect(id).toBe('client-1');
    await expect(client.startNew('probe-waitsForEvent', { instanceId: 'client-1' })).rejects.toThrow(/409/);
    await h.runtime.idle();
    const running = await client.getStatus(id);
    expect(running).toMatchObject({
      runtimeStatus: 'Running',
      input: { n: 1 },
      customStatus: { waiting: 'go' },
    });

    const request = new HttpRequest({ method: 'POST', url: `${h.runtime.clientData().rpcBaseUrl}x` });
    const check = client.createCheckStatusResponse(request, id);
    expect(check.status).toBe(202);
    const links = (await check.json()) as { statusQueryGetUri: string; sendEventPostUri: string };
    const polled = await fetch(links.statusQueryGetUri);
    expect(polled.status).toBe(202);
    expect(await polled.json()).toMatchObject({ instanceId: id, runtimeStatus: 'Running' });

    await client.raiseEvent(id, 'go', { ok: true });
    await h.runtime.idle();
    expect(await client.getStatus(id)).toMatchObject({
      runtimeStatus: 'Completed',
      output: { input: { n: 1 }, data: { ok: true } },
    });
    expect((await fetch(links.statusQueryGetUri)).status).toBe(200);

    const other = await client.startNew('probe-waitsForEvent', { instanceId: 'client-2' });
    await h.runtime.idle();
    await client.terminate(other, 'no longer needed');
    expect(await client.getStatus(other)).toMatchObject({
      runtimeStatus: 'Terminated',
      output: 'no longer needed',
    });
    await expect(client.raiseEvent('nobody', 'go', {})).rejects.toThrow(/No instance with ID 'nobody'/);

    expect(await client.purgeInstanceHistory(other)).toEqual({ instancesDeleted: 1 });
    await expect(client.getStatus(other)).rejects.toThrow(/HTTP 404/);
    await expect(client.startNew('noSuchOrchestrator')).rejects.toThrow(/400/);
    const suspend = await fetch(`${h.runtime.clientData().rpcBaseUrl}instances/${id}/suspend`, {
      method: 'POST',
    });
    expect(suspend.status).toBe(501);
  });

  it('hands the client the system key as the extension does: code in every URL, rpcBaseUrl under rpc/{key}/', () => {
    const data = h.runtime.clientData();
    expect(data.requiredQueryStringParameters).toBe(`code=${h.key}`);
    for (const url of [...Object.values(data.managementUrls), ...Object.values(data.creationUrls)]) {
      if (url !== 'INSTANCEID')
        expect(new URL(url.replace(/[{}[\]]/g, '')).searchParams.get('code')).toBe(h.key);
    }
    expect(data.rpcBaseUrl).toBe(`${h.baseUrl}/runtime/webhooks/durabletask/rpc/${h.key}/`);
  });

  it('answers 401 with a JSON problem to a webhook request without the system key, whatever the operation', async () => {
    const client = df.getClient(h.clientContext());
    const id = await client.startNew('probe-waitsForEvent', { instanceId: 'guarded-1' });
    await h.runtime.idle();
    const base = `${h.baseUrl}/runtime/webhooks/durabletask/`;
    const attempts: [string, string, string?][] = [
      ['POST', `instances/${id}/raiseEvent/go`, '{"ok":true}'],
      ['POST', `instances/${id}/terminate?reason=x`],
      ['DELETE', `instances/${id}`],
      ['GET', `instances/${id}`],
      ['GET', 'instances/'],
      ['POST', 'orchestrators/probe-waitsForEvent/guarded-2', '{}'],
      ['POST', `instances/${id}/raiseEvent/go?code=wrong-key-0123456789`, '{"ok":true}'],
      ['POST', `rpc/wrong-key-0123456789/instances/${id}/terminate?reason=x`],
      ['POST', `rpc/instances/${id}/terminate?reason=x`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await fetch(base + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 401, errors: [{ field: 'query.code' }] });
    }
    await h.runtime.idle();
    expect(statusOf(id)?.runtimeStatus).toBe('Running');
    expect(statusOf('guarded-2')).toBeUndefined();
    expect(h.logs.join('\n')).not.toContain(h.key);

    const keyed = await fetch(h.webhookUrl(`instances/${id}/raiseEvent/go`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
    expect(keyed.status).toBe(202);
    await h.runtime.idle();
    expect(statusOf(id)).toMatchObject({ runtimeStatus: 'Completed', output: { data: { ok: true } } });
    expect(h.logs.join('\n')).not.toContain(h.key);
  });

  it('answers 400 to a path with malformed percent-encoding', async () => {
    for (const path of ['instances/%ZZ', 'instances/%E0%A4%A/terminate', 'orchestrators/probe-echo/%']) {
      const res = await fetch(h.webhookUrl(path), {
        method: path.startsWith('instances/%ZZ') ? 'GET' : 'POST',
      });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ status: 400, errors: [{ field: 'path' }] });
    }
  });
});
