import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../src/local/logger';
import { PipelineThread } from '../../src/local/pipelineThread';
import type { PipelineWorkerData } from '../../src/local/pipelineProtocol';

/**
 * A stand-in for src/local/pipelineWorker.ts on a real worker thread, speaking the same protocol: it says
 * `ready` with its thread id as its port, dies (exit code 1, as an uncaught error ends a thread) when woken,
 * and on `stop` says `stopped` and ends.
 */
const standIn = `
const { parentPort, threadId } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m.type === 'wake') process.exit(1);
  if (m.type === 'stop') {
    parentPort.postMessage({ type: 'stopped' });
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'log', line: 'stand-in ' + threadId + ' serving' });
parentPort.postMessage({ type: 'ready', port: threadId, subscriptions: [], feeds: [], durableClient: { threadId } });
`;

const data: PipelineWorkerData = {
  topicKey: 'k',
  hostTopic: true,
  writeLocks: new SharedArrayBuffer(8),
  origin: 'http://127.0.0.1:0',
};

/** Resolves once `condition` holds, checked every 10 ms; rejects after `ms` (generous: a busy machine). */
async function until(condition: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PipelineThread: the local host restarts its pipeline thread when it dies', () => {
  let thread: PipelineThread | undefined;
  afterEach(async () => {
    await thread?.stop();
    thread = undefined;
  });

  it('starts a new thread after the serving one dies, and serves through it', async () => {
    const logged: string[] = [];
    const lines: string[] = [];
    thread = new PipelineThread(new Logger('debug', (l) => logged.push(l)), data, (l) => lines.push(l), {
      spawn: (workerData) => new Worker(standIn, { eval: true, workerData }),
      restartDelayMs: 50,
    });
    const first = await thread.start();
    expect(thread.port).toBe(first.port);
    expect(thread.durableClient()).toEqual({ threadId: first.port });

    thread.wake(); // the stand-in dies
    await until(() => thread!.port !== undefined && thread!.port !== first.port);

    const second = thread.port!;
    expect(thread.durableClient()).toEqual({ threadId: second });
    expect(logged.some((l) => l.includes('the pipeline thread ended (1); starting it again'))).toBe(true);
    expect(lines).toEqual([`stand-in ${first.port} serving`, `stand-in ${second} serving`]);
  });

  it('does not start a thread again once stopped, and a second stop returns', async () => {
    let spawned = 0;
    thread = new PipelineThread(new Logger('debug', () => {}), data, () => {}, {
      spawn: (workerData) => {
        spawned++;
        return new Worker(standIn, { eval: true, workerData });
      },
      restartDelayMs: 10,
    });
    await thread.start();
    await thread.stop();
    await thread.stop(); // a second stop (a second Ctrl+C) ends too
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(spawned).toBe(1);
    expect(thread.port).toBeUndefined();
    expect(() => thread!.durableClient()).toThrow('not serving');
  });
});
