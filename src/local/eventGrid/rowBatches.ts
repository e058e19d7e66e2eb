import { SqliteDatabase } from '../../adapters/sqlite/database';

type Statement = ReturnType<SqliteDatabase['prepare']>;

/**
 * One statement over many rows, in chunks of at most `chunk` rows per statement (`INSERT ... VALUES (...),
 * (...)`, `DELETE ... WHERE id IN (...)`): each call into the database has a fixed cost that one row per
 * statement pays per row. `sql(n)` writes the statement for `n` rows; `params` appends one row's parameters.
 * A statement is prepared once per chunk size met.
 */
export function rowBatches<T>(
  db: SqliteDatabase,
  sql: (n: number) => string,
  params: (row: T, into: unknown[]) => void,
  chunk = 50,
): { run(rows: readonly T[]): void; all<R>(rows: readonly T[]): R[] } {
  const statements = new Map<number, Statement>();
  const statement = (n: number) => {
    let s = statements.get(n);
    if (!s) statements.set(n, (s = db.prepare(sql(n))));
    return s;
  };
  const each = (rows: readonly T[], use: (s: Statement, values: unknown[]) => void) => {
    for (let k = 0; k < rows.length; k += chunk) {
      const n = Math.min(chunk, rows.length - k);
      const values: unknown[] = [];
      for (let j = k; j < k + n; j++) params(rows[j], values);
      use(statement(n), values);
    }
  };
  return {
    run: (rows) => each(rows, (s, values) => s.run(values)),
    all: <R>(rows: readonly T[]) => {
      const out: R[] = [];
      each(rows, (s, values) => {
        for (const r of s.all(values) as R[]) out.push(r);
      });
      return out;
    },
  };
}

/** `(?, ?, ?), (?, ?, ?)` for `rows` rows of `columns` parameters. */
export const placeholders = (rows: number, columns: number): string =>
  Array.from({ length: rows }, () => `(${Array.from({ length: columns }, () => '?').join(', ')})`).join(', ');
