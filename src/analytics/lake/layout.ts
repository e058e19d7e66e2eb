import { createHash } from 'node:crypto';
import { isCommit } from './rows';

/**
 * Where everything lives under the lake root (a folder, or a Blob / Data Lake Gen2 container), as paths with `/`:
 *
 * ```
 * MLTable                                        the Azure ML data asset of the events table
 * events/date=YYYY-MM-DD/part-<seq>-<k>.parquet  every event, business date of occurredAt (UTC)
 * types/<EventType>/MLTable                      a data asset per type table
 * types/<EventType>/date=YYYY-MM-DD/part-<seq>-<k>.parquet
 * _lake/manifest.json                            the committed files and, per order, the last version written
 * _lake/roll.json                                the roll in progress (its files), removed once committed
 * _lake/lock                                     the roll lock (a lock file, or a blob lease)
 * _staging/<sha256>.json                         change-feed batches not yet rolled into Parquet
 * ```
 *
 * Readers glob `events/date=*\/*.parquet`: folders starting with `_` are not data (the Hive and Spark convention,
 * which DuckDB, Spark and Azure ML also follow for hidden files).
 */
export const manifestPath = '_lake/manifest.json';
export const rollIntentPath = '_lake/roll.json';
export const lockPath = '_lake/lock';
export const stagingPrefix = '_staging/';

/** The path of a data file: `<table>/date=<date>/part-<seq, 10 digits>-<k, 4 digits>.parquet`. */
export const dataFilePath = (table: string, date: string, seq: number, k: number): string =>
  `${table}/date=${date}/part-${String(seq).padStart(10, '0')}-${String(k).padStart(4, '0')}.parquet`;

/**
 * The staging path of a change-feed batch, named by what it holds: the SHA-256 of its commits' keys
 * (`orderId`, `i`, `n`). The same batch delivered again gets the same name and overwrites itself; a batch cut
 * differently on redelivery gets another name, and the roll drops the rows it already has (see manifest.ts).
 */
export function stagingPath(documents: readonly unknown[]): string {
  const hash = createHash('sha256');
  for (const d of documents) {
    if (isCommit(d)) hash.update(`${d.orderId.length}:${d.orderId}:${d.i}:${d.n};`);
  }
  return `${stagingPrefix}${hash.digest('hex')}.json`;
}

/**
 * The `MLTable` file of a table, `pattern` being the glob of its Parquet files relative to the file: the Azure ML
 * data asset definition (CLI v2 MLTable YAML, https://learn.microsoft.com/azure/machine-learning/reference-yaml-mltable,
 * schema https://azuremlschemas.azureedge.net/latest/MLTable.schema.json): `type: mltable`, `paths` with one
 * `pattern`, `read_parquet`, then `extract_columns_from_partition_format`, whose format starts at the first partition
 * key and runs to the end of the path (mltable Python SDK docstring: `{name}` makes a string column,
 * `{name:yyyy...dd}` a datetime column); the file-name part becomes `part_file`, dropped again.
 */
export function mlTableText(pattern: string): string {
  return [
    '$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json',
    'type: mltable',
    'paths:',
    `  - pattern: ./${pattern}`,
    'transformations:',
    '  - read_parquet:',
    '      include_path_column: false',
    "  - extract_columns_from_partition_format: '/date={date:yyyy-MM-dd}/{part_file}.parquet'",
    '  - drop_columns: [part_file]',
    '',
  ].join('\n');
}

/** The MLTable files of the lake: the root's (the `events` table) and one per table folder. */
export function mlTableFiles(tables: readonly string[]): { path: string; text: string }[] {
  return tables.map((t) =>
    t === 'events'
      ? { path: 'MLTable', text: mlTableText('events/date=*/*.parquet') }
      : { path: `${t}/MLTable`, text: mlTableText('date=*/*.parquet') },
  );
}
