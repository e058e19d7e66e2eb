import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings as readAcceptanceSettings, SettingsError } from '../../src/config/settings';
import { leafActions } from '../../src/local/durable/actions';
import { DurableClock } from '../../src/local/durable/clock';
import { LocalDurableRuntime, retryDelayMs } from '../../src/local/durable/runtime';
import { timeSpan } from '../../src/local/durable/settings';
import { readLocalSettings as readDurableRuntimeSettings } from '../../src/local/settings';
import { FunctionsCore } from '../../src/local/functionsCore';
import { Logger } from '../../src/local/logger';

describe('parts of the local durable runtime', () => {
  it('computes retry delays as DurableTask.Core does: first × backoff^k, capped by the maximum', () => {
    const options = { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5, backoffCoefficient: 2 };
    expect([0, 1, 2, 3].map((k) => retryDelayMs(options, k))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs({ ...options, maxRetryIntervalInMilliseconds: 3000 }, 3)).toBe(3000);
    expect(retryDelayMs({ firstRetryIntervalInMilliseconds: 500, maxNumberOfAttempts: 3 }, 4)).toBe(500);
  });

  it('numbers leaf actions depth first, each action object once, as the library numbers its tasks', () => {
    const a = { actionType: 0, functionName: 'a' };
    const b = {
      actionType: 1,
      functionName: 'b',
      retryOptions: { firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 1 },
    };
    const wait = { actionType: 6, externalEventName: 'e' };
    const timer = { actionType: 5, fireAt: new Date(0) };
    const actions = [
      [
        a,
        { actionType: 12, compoundActions: [b, { actionType: 11, compoundActions: [wait, timer] }] },
        { actionType: 11, compoundActions: [a, b] },
      ],
    ];
    expect(leafActions(actions)).toEqual([a, b, wait, timer]);
  });

  it('fires scheduled timers of a frozen clock only when advanced, earliest first', () => {
    const clock = new DurableClock('frozen', { start: new Date('2030-01-01T00:00:00Z') });
    const fired: string[] = [];
    clock.schedule(new Date('2030-01-01T00:00:02Z'), () => fired.push('two'));
    clock.schedule(new Date('2030-01-01T00:00:01Z'), () => fired.push('one'));
    const cancel = clock.schedule(new Date('2030-01-01T00:00:01.500Z'), () => fired.push('canceled'));
    cancel();
    clock.advance(999);
    expect(fired).toEqual([]);
    clock.advance(1001);
    expect(fired).toEqual(['one', 'two']);
    expect(() => new DurableClock('system').advance(1)).toThrow(/LOCAL_DURABLE_CLOCK=manual/);
  });

  it('keeps the time a manual clock was moved to across a restart of the runtime', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'orders-clock-'));
    const logger = new Logger('error', () => undefined);
    const first = new LocalDurableRuntime(new FunctionsCore(), logger, {
      dataDir,
      hubName: 'Hub',
      clock: new DurableClock('manual'),
    });
    first.advanceClock(5 * 24 * 3600 * 1000);
    await first.stop();
    const second = new LocalDurableRuntime(new FunctionsCore(), logger, {
      dataDir,
      hubName: 'Hub',
      clock: new DurableClock('manual'),
    });
    expect(second.clock.offset).toBe(5 * 24 * 3600 * 1000);
    const before = Date.now();
    expect(second.clock.nowMs()).toBeGreaterThanOrEqual(before + 5 * 24 * 3600 * 1000);
    await second.stop();
  });

  it('formats .NET TimeSpans for the trigger input and names each invalid setting', () => {
    expect(timeSpan(6 * 86400)).toBe('6.00:00:00');
    expect(timeSpan(3661)).toBe('0.01:01:01');
    expect(() => readAcceptanceSettings({ APPROVAL_THRESHOLD: '1,000' })).toThrow(SettingsError);
    expect(() => readAcceptanceSettings({ APPROVAL_THRESHOLD: '1,000' })).toThrow(/APPROVAL_THRESHOLD/);
    expect(() => readAcceptanceSettings({ DURABLE_TASK_HUB: 'my-hub' })).toThrow(/DURABLE_TASK_HUB/);
    expect(() => readAcceptanceSettings({ STOCK_LEVELS: '{"a":' })).toThrow(/STOCK_LEVELS/);
    expect(readAcceptanceSettings({})).toMatchObject({
      APPROVAL_TIMEOUT_SECONDS: 86400,
      RESERVATION_RETRY_MAX_ATTEMPTS: 3,
    });
    expect(() =>
      readDurableRuntimeSettings({
        LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS: '10',
        LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS: '20',
      }),
    ).toThrow(/LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS/);
  });

  it("takes the webhooks' system key from LOCAL_DURABLE_KEY, else draws a new one for each run", async () => {
    expect(readDurableRuntimeSettings({ LOCAL_DURABLE_KEY: 'a-key_of-16-chars' }).LOCAL_DURABLE_KEY).toBe(
      'a-key_of-16-chars',
    );
    expect(readDurableRuntimeSettings({ LOCAL_DURABLE_KEY: '' }).LOCAL_DURABLE_KEY).toBeUndefined();
    for (const bad of ['short', 'has a space in it!', 'k&code=other-value']) {
      expect(() => readDurableRuntimeSettings({ LOCAL_DURABLE_KEY: bad })).toThrow(/LOCAL_DURABLE_KEY/);
    }
    const logger = new Logger('error', () => undefined);
    const keys: string[] = [];
    for (let run = 0; run < 2; run++) {
      const runtime = new LocalDurableRuntime(new FunctionsCore(), logger, {
        dataDir: mkdtempSync(join(tmpdir(), 'orders-key-')),
        hubName: 'Hub',
      });
      const code = runtime.clientData('http://127.0.0.1:1').requiredQueryStringParameters;
      expect(code).toMatch(/^code=[A-Za-z0-9_-]{43}$/);
      keys.push(code);
      expect(runtime.isKey(code.slice('code='.length))).toBe(true);
      expect(runtime.isKey(code.slice('code='.length, -1))).toBe(false);
      expect(runtime.isKey(null)).toBe(false);
      await runtime.stop();
    }
    expect(keys[0]).not.toBe(keys[1]);
  });
});
