import type { ClientBindingData } from './durable/clientBinding';

/**
 * The messages between the local host's HTTP thread and its pipeline thread (src/local/pipelineThread.ts,
 * src/local/pipelineWorker.ts). Only these cross: the pipeline reads and writes the stores itself.
 */

/** What the pipeline thread starts with (`workerData`). The environment is the host's, copied at spawn. */
export interface PipelineWorkerData {
  /** The key publishers must send to the local topic (`aeg-sas-key`). */
  topicKey: string;
  /**
   * True when the host chose the topic endpoint (EVENTGRID_TOPIC_ENDPOINT was not set): the pipeline's own
   * functions then publish straight to the topic on this thread instead of through the HTTP thread.
   */
  hostTopic: boolean;
  /** The SQLite write locks the threads share (`shareWriteLocks`, src/adapters/sqlite/database.ts). */
  writeLocks: SharedArrayBuffer;
  /** Where the host listens (`http://127.0.0.1:7071`): the durable client binding's URLs for the HTTP thread. */
  origin: string;
}

/** HTTP thread → pipeline thread. */
export type ToPipeline =
  /** Something was appended by the HTTP thread: read the change feed now. */
  | { type: 'wake' }
  /** Finish what is in flight, checkpoint, close, then say `stopped`. */
  | { type: 'stop' };

/** Pipeline thread → HTTP thread. */
export type FromPipeline =
  /** A log line, written by the HTTP thread so the host has one ordered log. */
  | { type: 'log'; line: string }
  /** Serving: the local topic listens on `port` (loopback). */
  | {
      type: 'ready';
      port: number;
      subscriptions: string[];
      feeds: string[];
      /** The durable client binding for the HTTP thread's functions (its URLs carry the system key). */
      durableClient: ClientBindingData;
    }
  /** Start-up failed; the thread ends. */
  | { type: 'failed'; message: string }
  | { type: 'stopped' };
