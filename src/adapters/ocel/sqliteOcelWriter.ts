import type Database from 'libsql';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { OcelAttributeType, OcelCounts, OcelLog, OcelSqliteWriter, OcelType } from '../../ports/ocel';

/**
 * The OCEL 2.0 SQLite format, as the specification's relational section lays it out (Berti et al., "OCEL
 * (Object-Centric Event Log) 2.0 Specification", 2023, https://www.ocel-standard.org/2.0/ocel20_specification.pdf,
 * and https://www.ocel-standard.org/2.0/ocel20-schema-relational.pdf):
 *
 * - `event(ocel_id PK, ocel_type)`, `object(ocel_id PK, ocel_type)`;
 * - `event_map_type(ocel_type PK, ocel_type_map)`, `object_map_type(ocel_type PK, ocel_type_map)`: each type's
 *   table-name suffix;
 * - `event_<map>(ocel_id PK → event, ocel_time, <attributes>)`: one row per event of the type;
 * - `object_<map>(ocel_id → object, ocel_time, ocel_changed_field, <attributes>)`: per object a first row at
 *   1970-01-01T00:00:00Z with `ocel_changed_field` NULL (its initial values; all NULL here, every attribute is
 *   recorded as a change), then one row per value change, naming the attribute in `ocel_changed_field`;
 * - `event_object(ocel_event_id → event, ocel_object_id → object, ocel_qualifier)`, primary key all three;
 * - `object_object(ocel_source_id → object, ocel_target_id → object, ocel_qualifier)`, primary key all three.
 *
 * Times are ISO 8601 UTC text; column types follow the attribute types (string TEXT, time TIMESTAMP, integer
 * INTEGER, float REAL, boolean BOOLEAN). Foreign keys are declared and checked (`PRAGMA foreign_keys = ON`).
 */
export class LibsqlOcelWriter implements OcelSqliteWriter {
  /** @throws Error when the file cannot be written (the partial file is removed) */
  async write(log: OcelLog, path: string): Promise<OcelCounts> {
    mkdirSync(dirname(path), { recursive: true });
    for (const suffix of ['', '-wal', '-shm', '-journal'])
      if (existsSync(path + suffix)) rmSync(path + suffix);
    // Required here, as src/adapters/sqlite/database.ts does: libsql's binary loads only when a file is written.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Libsql = require('libsql') as typeof Database;
    const db = new Libsql(path);
    try {
      db.exec('PRAGMA foreign_keys = ON');
      writeLog(db, log);
      return countTables(db);
    } catch (err) {
      db.close();
      rmSync(path, { force: true });
      throw err;
    } finally {
      if (db.open) db.close();
    }
  }
}

const columnType: Record<OcelAttributeType, string> = {
  string: 'TEXT',
  time: 'TIMESTAMP',
  integer: 'INTEGER',
  float: 'REAL',
  boolean: 'BOOLEAN',
};

/** A SQL identifier, quoted. Names come from the log's types and attributes. */
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Table-name suffixes of the types: letters, digits and `_` of the name, made unique with a counter (the
 * specification leaves the mapping to the writer and records it in the `*_map_type` tables).
 */
function typeMaps(types: OcelType[]): Map<string, string> {
  const used = new Set<string>();
  const maps = new Map<string, string>();
  for (const t of types) {
    const base = t.name.replace(/[^A-Za-z0-9_]/g, '') || 'type';
    let map = base;
    for (let n = 2; used.has(map.toLowerCase()); n++) map = `${base}${n}`;
    used.add(map.toLowerCase());
    maps.set(t.name, map);
  }
  return maps;
}

/** The attribute's text value as its column holds it. */
function typed(value: string, type: OcelAttributeType): string | number {
  if (type === 'integer' || type === 'float') return Number(value);
  if (type === 'boolean') return value === 'true' ? 1 : 0;
  return value;
}

function writeLog(db: InstanceType<typeof Database>, log: OcelLog): void {
  const eventMaps = typeMaps(log.eventTypes);
  const objectMaps = typeMaps(log.objectTypes);
  db.exec(`
    CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT NOT NULL);
    CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT NOT NULL);
    CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT NOT NULL UNIQUE);
    CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT NOT NULL UNIQUE);
    CREATE TABLE event_object (
      ocel_event_id TEXT NOT NULL REFERENCES event (ocel_id),
      ocel_object_id TEXT NOT NULL REFERENCES object (ocel_id),
      ocel_qualifier TEXT NOT NULL,
      PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier)
    );
    CREATE TABLE object_object (
      ocel_source_id TEXT NOT NULL REFERENCES object (ocel_id),
      ocel_target_id TEXT NOT NULL REFERENCES object (ocel_id),
      ocel_qualifier TEXT NOT NULL,
      PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier)
    );`);
  const eventTypeOf = new Map(log.eventTypes.map((t) => [t.name, t]));
  const objectTypeOf = new Map(log.objectTypes.map((t) => [t.name, t]));
  for (const t of log.eventTypes) {
    const columns = t.attributes.map((a) => `, ${quote(a.name)} ${columnType[a.type]}`).join('');
    db.exec(`CREATE TABLE ${quote('event_' + eventMaps.get(t.name)!)} (
      ocel_id TEXT PRIMARY KEY REFERENCES event (ocel_id), ocel_time TIMESTAMP NOT NULL${columns})`);
  }
  for (const t of log.objectTypes) {
    const columns = t.attributes.map((a) => `, ${quote(a.name)} ${columnType[a.type]}`).join('');
    db.exec(`CREATE TABLE ${quote('object_' + objectMaps.get(t.name)!)} (
      ocel_id TEXT NOT NULL REFERENCES object (ocel_id), ocel_time TIMESTAMP NOT NULL,
      ocel_changed_field TEXT${columns})`);
    // Readers look objects up by id (the attribute history of one object).
    const table = 'object_' + objectMaps.get(t.name)!;
    db.exec(`CREATE INDEX ${quote(table + '_id')} ON ${quote(table)} (ocel_id, ocel_time)`);
  }

  const insert = db.transaction(() => {
    const mapRow = (table: string) =>
      db.prepare(`INSERT INTO ${table} (ocel_type, ocel_type_map) VALUES (?, ?)`);
    for (const [name, map] of eventMaps) mapRow('event_map_type').run(name, map);
    for (const [name, map] of objectMaps) mapRow('object_map_type').run(name, map);

    const object = db.prepare('INSERT INTO object (ocel_id, ocel_type) VALUES (?, ?)');
    for (const o of log.objects) object.run(o.id, o.type);
    const perObjectType = new Map<string, ReturnType<typeof db.prepare<unknown[]>>>();
    for (const o of log.objects) {
      const type = objectTypeOf.get(o.type)!;
      const table = quote('object_' + objectMaps.get(o.type)!);
      let row = perObjectType.get(o.type);
      if (!row) {
        const names = type.attributes.map((a) => `, ${quote(a.name)}`).join('');
        const marks = type.attributes.map(() => ', ?').join('');
        row = db.prepare(
          `INSERT INTO ${table} (ocel_id, ocel_time, ocel_changed_field${names}) VALUES (?, ?, ?${marks})`,
        );
        perObjectType.set(o.type, row);
      }
      row.run(o.id, '1970-01-01T00:00:00.000Z', null, ...type.attributes.map(() => null));
      for (const change of o.attributes) {
        const values = type.attributes.map((a) =>
          a.name === change.name ? typed(change.value, a.type) : null,
        );
        row.run(o.id, change.time, change.name, ...values);
      }
    }
    const o2o = db.prepare(
      'INSERT INTO object_object (ocel_source_id, ocel_target_id, ocel_qualifier) VALUES (?, ?, ?)',
    );
    for (const o of log.objects) for (const r of o.relationships) o2o.run(o.id, r.objectId, r.qualifier);

    const event = db.prepare('INSERT INTO event (ocel_id, ocel_type) VALUES (?, ?)');
    const e2o = db.prepare(
      'INSERT INTO event_object (ocel_event_id, ocel_object_id, ocel_qualifier) VALUES (?, ?, ?)',
    );
    const perEventType = new Map<string, ReturnType<typeof db.prepare<unknown[]>>>();
    for (const e of log.events) {
      const type = eventTypeOf.get(e.type)!;
      event.run(e.id, e.type);
      let row = perEventType.get(e.type);
      if (!row) {
        const names = type.attributes.map((a) => `, ${quote(a.name)}`).join('');
        const marks = type.attributes.map(() => ', ?').join('');
        row = db.prepare(
          `INSERT INTO ${quote('event_' + eventMaps.get(e.type)!)} (ocel_id, ocel_time${names}) VALUES (?, ?${marks})`,
        );
        perEventType.set(e.type, row);
      }
      const values = new Map(e.attributes.map((a) => [a.name, a.value]));
      row.run(
        e.id,
        e.time,
        ...type.attributes.map((a) => {
          const v = values.get(a.name);
          return v === undefined ? null : typed(v, a.type);
        }),
      );
      for (const r of e.relationships) e2o.run(e.id, r.objectId, r.qualifier);
    }
  });
  insert();
}

/** What the written file holds (the same counts as src/analytics/ocel countOcel of the log). */
function countTables(db: InstanceType<typeof Database>): OcelCounts {
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const objectTables = (
    db.prepare('SELECT ocel_type_map AS m FROM object_map_type').all() as { m: string }[]
  ).map((r) => quote('object_' + r.m));
  return {
    events: count('SELECT COUNT(*) AS n FROM event'),
    objects: count('SELECT COUNT(*) AS n FROM object'),
    eventObject: count('SELECT COUNT(*) AS n FROM event_object'),
    objectObject: count('SELECT COUNT(*) AS n FROM object_object'),
    objectAttributeChanges: objectTables.reduce(
      (n, t) => n + count(`SELECT COUNT(*) AS n FROM ${t} WHERE ocel_changed_field IS NOT NULL`),
      0,
    ),
    eventTypes: count('SELECT COUNT(*) AS n FROM event_map_type'),
    objectTypes: count('SELECT COUNT(*) AS n FROM object_map_type'),
  };
}
