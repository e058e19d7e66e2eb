import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Logger } from './logger';
import type { ClientBindingData } from './durable/clientBinding';
import type { FromPipeline, PipelineWorkerData, ToPipeline } from './pipelineProtocol';

/** What the pipeline thread reports once it serves. */
export interface PipelineReady {
  port: number;
  subscriptions: string[];
  feeds: string[];
  durableClient: ClientBindingData;
}

/**
 * The pipeline thread's environment: the host's, its telemetry resource marked as another instance of the app
 * (`service.instance.id`, as each worker process of a function app has its own), so the two threads' cumulative
 * metrics are two series, not one series that jumps between them.
 */
export function pipelineEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const attributes = env.OTEL_RESOURCE_ATTRIBUTES ? `${env.OTEL_RESOURCE_ATTRIBUTES},` : '';
  return { ...env, OTEL_RESOURCE_ATTRIBUTES: `${attributes}service.instance.id=local-pipeline-thread` };
}

/** How the pipeline thread is run; the defaults are the host's. */
export interface PipelineThreadOptions {
  /** Starts the thread (default: src/local/pipelineWorker.ts with {@link pipelineEnvironment}). */
  spawn?: (data: PipelineWorkerData) => Worker;
  /** Milliseconds before a thread that died is started again (default 1,000). */
  restartDelayMs?: number;
}

const spawnPipelineWorker = (data: PipelineWorkerData) =>
  new Worker(join(__dirname, 'pipelineWorker.js'), {
    workerData: data,
    env: pipelineEnvironment(process.env),
  });

/**
 * The local host's pipeline thread (src/local/pipelineWorker.ts), seen from the HTTP thread: started once,
 * started again a second after it dies (its change feeds resume from their checkpoints, its deliveries from
 * the topic's queue, so nothing acknowledged is lost), stopped on shutdown. Its log lines are written to the
 * host's log here, in order.
 */
export class PipelineThread {
  private worker?: Worker;
  private ready?: PipelineReady;
  private stopped: Promise<void> | undefined;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    private readonly data: PipelineWorkerData,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
    private readonly options: PipelineThreadOptions = {},
  ) {}

  /** The loopback port of the thread's HTTP server (the topic, the durable webhooks), while it serves. */
  get port(): number | undefined {
    return this.ready?.port;
  }

  /**
   * The durable client binding of the thread that serves now (a restarted thread may have a new system key).
   * @throws Error before the thread has served
   */
  durableClient(): ClientBindingData {
    if (!this.ready) throw new Error('the pipeline thread is not serving (starting or starting again)');
    return this.ready.durableClient;
  }

  /**
   * Starts the thread and resolves once it serves.
   * @throws Error with the thread's message when it fails to start (bad settings, a store it cannot open)
   */
  start(): Promise<PipelineReady> {
    const worker = (this.options.spawn ?? spawnPipelineWorker)(this.data);
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (message: FromPipeline) => {
        if (message.type === 'log') this.write(message.line);
        else if (message.type === 'ready') {
          started = true;
          this.ready = message;
          resolve(message);
        } else if (message.type === 'failed') {
          if (!started) reject(new Error(`the pipeline thread failed to start: ${message.message}`));
          else this.logger.error('pipeline', `the pipeline thread failed to stop: ${message.message}`);
          void worker.terminate();
        }
      });
      worker.on('error', (err) => {
        if (!started) reject(err);
        else this.logger.error('pipeline', 'the pipeline thread failed', err);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.ready = undefined;
        if (!started) return reject(new Error(`the pipeline thread ended (${code}) before it started`));
        if (this.stopped || this.worker !== worker) return;
        this.logger.error('pipeline', `the pipeline thread ended (${code}); starting it again`);
        this.restartTimer = setTimeout(() => {
          this.start().catch((err: unknown) => this.logger.error('pipeline', 'restart failed', err));
        }, this.options.restartDelayMs ?? 1_000);
      });
    });
  }

  /** The HTTP thread appended: the change feeds read now instead of at their next poll. */
  wake(): void {
    if (this.ready) this.send({ type: 'wake' });
  }

  /**
   * Asks the thread to finish what is in flight and waits until it has ended. Calling it again returns the same
   * wait: an ended thread sends no second `exit` to wait for.
   */
  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const stopped = new Promise<void>((resolve) =>
      worker.on('message', (m: FromPipeline) => {
        if (m.type === 'stopped' || m.type === 'failed') resolve();
      }),
    );
    this.send({ type: 'stop' });
    await Promise.race([stopped, ended]);
    // Stopped and closed: what is left (an idle keep-alive timer of a library) must not hold the host.
    await worker.terminate();
    await ended;
  }

  private send(message: ToPipeline): void {
    this.worker?.postMessage(message);
  }
}
