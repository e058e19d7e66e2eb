/**
 * Entry of the local host's pipeline thread (docs/adr/0016-pipeline-thread.md): the change feed into every
 * cosmosDB-trigger function and the local Event Grid topic (its publish endpoint, its deliveries to
 * eventGrid-trigger functions and webhooks), off the thread that answers HTTP. It loads the same function
 * files, as a second Node.js worker of one function app would, and runs only their non-HTTP triggers.
 * Started by src/local/pipelineThread.ts; the protocol is src/local/pipelineProtocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FunctionsCore, installFunctionsCore } from './functionsCore';
import type { FromPipeline, PipelineWorkerData, ToPipeline } from './pipelineProtocol';

const port = parentPort;
if (!port) throw new Error('src/local/pipelineWorker.ts runs as a worker thread of the local host');
const post = (message: FromPipeline) => port.postMessage(message);

// As in main.ts: the core answers `@azure/functions-core` before anything loads `@azure/functions`.
const core = new FunctionsCore();
installFunctionsCore(core);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the core is installed
const { startPipeline } = require('./pipeline') as typeof import('./pipeline');
startPipeline(core, workerData as PipelineWorkerData, (line) => post({ type: 'log', line })).then(
  (pipeline) => {
    port.on('message', (message: ToPipeline) => {
      if (message.type === 'wake') pipeline.wake();
      else if (message.type === 'stop')
        void pipeline.stop().then(
          () => post({ type: 'stopped' }),
          (err: unknown) => post({ type: 'failed', message: String(err) }),
        );
    });
    post({
      type: 'ready',
      port: pipeline.port,
      subscriptions: pipeline.subscriptions,
      feeds: pipeline.feeds,
      durableClient: pipeline.durableClient,
    });
  },
  (err: unknown) => post({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
);
