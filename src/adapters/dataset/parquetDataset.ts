import { DuckDBAppender, DuckDBInstance, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * Writes a training set as a folder Azure Machine Learning reads as one `mltable` data asset: the rows as one
 * Parquet file written by DuckDB (`COPY ... TO ... (FORMAT parquet)` from an in-memory table filled by an
 * appender), an `MLTable` file (schema https://azuremlschemas.azureedge.net/latest/MLTable.schema.json, reference:
 * https://learn.microsoft.com/azure/machine-learning/reference-yaml-mltable) and the dataset card (JSON and
 * Markdown). The column list and the rows come from src/analytics/dataset; this file knows only the table.
 */

/**
 * A column's type and its Parquet form: `timestamp` is epoch milliseconds written as TIMESTAMP with
 * isAdjustedToUTC (DuckDB TIMESTAMPTZ, microseconds), `string` UTF-8, `boolean`, `integer` INT64, `double` DOUBLE.
 */
export type TableColumnType = 'timestamp' | 'string' | 'boolean' | 'integer' | 'double';

export interface TableColumn {
  /** Lower-case letters, digits and `_`, starting with a letter or `_`. */
  name: string;
  type: TableColumnType;
  nullable: boolean;
}

const duckType: Record<TableColumnType, string> = {
  timestamp: 'TIMESTAMPTZ',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  integer: 'BIGINT',
  double: 'DOUBLE',
};

/** A value does not fit its column (wrong type, or null in a non-nullable column); nothing is left written. */
export class DatasetWriteError extends Error {}

/** The file names of a dataset folder. */
export const datasetFiles = {
  data: 'data.parquet',
  mltable: 'MLTable',
  cardJson: 'dataset-card.json',
  cardMarkdown: 'README.md',
} as const;

/** The MLTable file of a folder holding `dataFile`: the Parquet file read with `read_parquet`. */
export function mltableText(dataFile: string = datasetFiles.data): string {
  return [
    '$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json',
    'type: mltable',
    'paths:',
    `  - file: ./${dataFile}`,
    'transformations:',
    '  - read_parquet:',
    '      include_path_column: false',
    '',
  ].join('\n');
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

function checkColumns(columns: readonly TableColumn[]): void {
  for (const col of columns) {
    if (!/^[a-z_][a-z0-9_]*$/.test(col.name)) throw new DatasetWriteError(`bad column name ${col.name}`);
  }
}

function appendValue(appender: DuckDBAppender, col: TableColumn, value: unknown): void {
  if (value === null || value === undefined) {
    if (!col.nullable) throw new DatasetWriteError(`column ${col.name} is not nullable`);
    appender.appendNull();
    return;
  }
  const wrong = () =>
    new DatasetWriteError(`column ${col.name} (${col.type}): ${String(value)} does not fit`);
  switch (col.type) {
    case 'timestamp':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrong();
      appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(value) * 1000n));
      return;
    case 'string':
      if (typeof value !== 'string') throw wrong();
      appender.appendVarchar(value);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong();
      appender.appendBoolean(value);
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrong();
      appender.appendBigInt(BigInt(value));
      return;
    case 'double':
      if (typeof value !== 'number') throw wrong();
      appender.appendDouble(value);
      return;
  }
}

/**
 * Writes `rows` (objects keyed by the column names) to the Parquet file `file` (replaced if it exists), through
 * a temporary file renamed into place, with zstd compression.
 * @throws DatasetWriteError when a column name is malformed or a value does not fit its column
 */
export async function writeParquetTable(
  file: string,
  columns: readonly TableColumn[],
  rows: Iterable<Readonly<Record<string, unknown>>>,
): Promise<void> {
  checkColumns(columns);
  const target = resolve(file);
  const temporary = `${target}.tmp-${process.pid}`;
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    try {
      const ddl = columns.map(
        (col) => `"${col.name}" ${duckType[col.type]}${col.nullable ? '' : ' NOT NULL'}`,
      );
      await connection.run(`SET TimeZone = 'UTC'`);
      await connection.run(`CREATE TABLE t (${ddl.join(', ')})`);
      const appender = await connection.createAppender('t');
      try {
        for (const row of rows) {
          for (const col of columns) appendValue(appender, col, row[col.name]);
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      await connection.run(`COPY t TO ${sqlString(temporary)} (FORMAT parquet, COMPRESSION zstd)`);
      await rename(temporary, target);
    } finally {
      connection.closeSync();
    }
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  } finally {
    instance.closeSync();
  }
}

export interface DatasetFolder {
  data: string;
  mltable: string;
  cardJson: string;
  cardMarkdown: string;
}

/**
 * Writes a dataset folder: `data.parquet`, `MLTable`, `dataset-card.json` (the card as given, 2-space JSON)
 * and `README.md` (the card as Markdown). The folder is created if needed; its files are replaced.
 * @throws DatasetWriteError as {@link writeParquetTable}
 */
export async function writeDatasetFolder(
  folder: string,
  table: { columns: readonly TableColumn[]; rows: Iterable<Readonly<Record<string, unknown>>> },
  card: { json: unknown; markdown: string },
): Promise<DatasetFolder> {
  const dir = resolve(folder);
  await mkdir(dir, { recursive: true });
  const paths: DatasetFolder = {
    data: join(dir, datasetFiles.data),
    mltable: join(dir, datasetFiles.mltable),
    cardJson: join(dir, datasetFiles.cardJson),
    cardMarkdown: join(dir, datasetFiles.cardMarkdown),
  };
  await writeParquetTable(paths.data, table.columns, table.rows);
  await writeFile(paths.mltable, mltableText());
  await writeFile(paths.cardJson, JSON.stringify(card.json, null, 2) + '\n');
  await writeFile(paths.cardMarkdown, card.markdown);
  return paths;
}
