/**
 * The event lake's ports: where its files go (a local folder, a Blob / Data Lake Storage Gen2 container) and how
 * rows become Parquet. The layout, the manifest and the rows are src/analytics/lake/; the consumer that uses
 * them is src/app/eventLake.ts (docs/adr/0011-event-lake-is-a-change-feed-consumer.md).
 */

/** A file under the lake root, by its path with `/` separators (`events/date=2024-01-31/part-...parquet`). */
export interface LakeFileInfo {
  path: string;
  bytes: number;
  /** Last write, epoch milliseconds. */
  modifiedAt: number;
}

/**
 * A store of whole files under one root. Paths are relative, `/`-separated, made by src/analytics/lake/layout.ts
 * (no `..`, no leading `/`).
 */
export interface LakeTarget {
  /** Where it writes, for messages: a folder or a container URL. */
  readonly location: string;
  /** Writes a whole file, replacing any file of that path; a reader sees the old or the new file, never part. */
  write(path: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  /** Reads a whole file; undefined when there is none. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** The files whose path starts with `prefix`, in no particular order. */
  list(prefix: string): Promise<LakeFileInfo[]>;
  /** Deletes a file; no error when there is none. */
  delete(path: string): Promise<void>;
  /**
   * Runs `work` holding the lake's roll lock, so that one roll at a time changes the manifest, across
   * processes and instances.
   * @throws LakeLockTimeoutError when the lock cannot be taken within the target's wait
   */
  withLock<T>(work: () => Promise<T>): Promise<T>;
}

export class LakeLockTimeoutError extends Error {}

/** A column as the encoder receives it (the shape of `Column` in src/analytics/lake/tables.ts). */
export interface ParquetColumn {
  name: string;
  kind: 'string' | 'int32' | 'int64' | 'timestamp' | 'decimal' | 'json';
  nullable: boolean;
  precision?: number;
  scale?: number;
}

/**
 * Writes rows as one Parquet file (format spec: https://parquet.apache.org/docs/file-format/, logical types:
 * https://github.com/apache/parquet-format/blob/master/LogicalTypes.md). Cells by kind: `string` and `json` are
 * strings, `int32`/`int64` numbers, `timestamp` epoch milliseconds written as TIMESTAMP(isAdjustedToUTC=true),
 * `decimal` the unscaled bigint written as DECIMAL(precision, scale); null only in nullable columns.
 */
export interface ParquetEncoder {
  /** The library that writes, for the manifest and messages (`hyparquet-writer 0.17.0`). */
  readonly name: string;
  /** @throws Error from the library when a cell does not fit its column */
  encode(columns: readonly ParquetColumn[], rows: readonly Record<string, unknown>[]): Promise<Uint8Array>;
}
