import { ParquetColumn, ParquetEncoder } from '../../ports/eventLake';

/** A Parquet schema element, as hyparquet's `SchemaElement` (the Thrift struct of the Parquet format). */
interface SchemaElement {
  name: string;
  type?: string;
  type_length?: number;
  repetition_type?: 'REQUIRED' | 'OPTIONAL';
  num_children?: number;
  converted_type?: string;
  logical_type?: Record<string, unknown>;
  precision?: number;
  scale?: number;
}

/** Bytes of a FIXED_LEN_BYTE_ARRAY that holds any signed decimal of `precision` digits (LogicalTypes.md, DECIMAL). */
export const decimalBytes = (precision: number): number => Math.ceil((precision * Math.log2(10) + 1) / 8);

/**
 * The Parquet schema element of a column (LogicalTypes.md): strings BYTE_ARRAY + STRING (UTF8); JSON
 * BYTE_ARRAY + JSON; integers INT32 / INT64; timestamps INT64 + TIMESTAMP(isAdjustedToUTC=true, MILLIS);
 * decimals FIXED_LEN_BYTE_ARRAY(n) + DECIMAL(precision, scale), n the fewest bytes for the precision.
 */
export function schemaElement(c: ParquetColumn): SchemaElement {
  const repetition_type = c.nullable ? 'OPTIONAL' : 'REQUIRED';
  switch (c.kind) {
    case 'string':
      return {
        name: c.name,
        type: 'BYTE_ARRAY',
        converted_type: 'UTF8',
        logical_type: { type: 'STRING' },
        repetition_type,
      };
    case 'json':
      return {
        name: c.name,
        type: 'BYTE_ARRAY',
        converted_type: 'JSON',
        logical_type: { type: 'JSON' },
        repetition_type,
      };
    case 'int32':
      return { name: c.name, type: 'INT32', repetition_type };
    case 'int64':
      return { name: c.name, type: 'INT64', repetition_type };
    case 'timestamp':
      return {
        name: c.name,
        type: 'INT64',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
        repetition_type,
      };
    case 'decimal': {
      const precision = c.precision ?? 38;
      const scale = c.scale ?? 0;
      return {
        name: c.name,
        type: 'FIXED_LEN_BYTE_ARRAY',
        type_length: decimalBytes(precision),
        converted_type: 'DECIMAL',
        logical_type: { type: 'DECIMAL', precision, scale },
        precision,
        scale,
        repetition_type,
      };
    }
  }
}

/**
 * The values of one column as hyparquet takes them: int64 and timestamps as bigint; JSON parsed, as hyparquet
 * serializes a JSON column's values itself (`JSON.stringify`, which gives back the same text for text that
 * `JSON.stringify` made); the rest as given.
 */
function columnValues(c: ParquetColumn, rows: readonly Record<string, unknown>[]): unknown[] {
  if (c.kind === 'json') {
    return rows.map((r) =>
      typeof r[c.name] === 'string' ? (JSON.parse(r[c.name] as string) as unknown) : null,
    );
  }
  if (c.kind === 'int64' || c.kind === 'timestamp') {
    return rows.map((r) =>
      r[c.name] === null || r[c.name] === undefined ? null : BigInt(r[c.name] as number),
    );
  }
  return rows.map((r) => (r[c.name] === undefined ? null : r[c.name]));
}

type Hyparquet = typeof import('hyparquet-writer');
let library: Promise<Hyparquet> | undefined;

/**
 * Parquet through `hyparquet-writer` (pure JavaScript, no native or WebAssembly code; chosen by measurement, see
 * docs/analytics.md): one row group per file up to 100,000 rows, Snappy compression, column statistics on,
 * `created_by` naming the library. The library is an ES module, loaded on first use.
 */
export class HyparquetEncoder implements ParquetEncoder {
  readonly name = 'hyparquet-writer';

  async encode(
    columns: readonly ParquetColumn[],
    rows: readonly Record<string, unknown>[],
  ): Promise<Uint8Array> {
    library ??= import('hyparquet-writer');
    const { parquetWriteBuffer } = await library;
    const schema = [
      { name: 'root', num_children: columns.length },
      ...columns.map(schemaElement),
    ] as Parameters<Hyparquet['parquetWriteBuffer']>[0]['schema'];
    const buffer = parquetWriteBuffer({
      schema,
      columnData: columns.map((c) => ({ name: c.name, data: columnValues(c, rows) })),
      rowGroupSize: 100_000,
      createdBy: 'order-events event lake (hyparquet-writer)',
    });
    return new Uint8Array(buffer);
  }
}
