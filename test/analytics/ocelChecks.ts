import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type Database from 'libsql';

/**
 * Checks of an OCEL 2.0 log in its two exchange formats, shared by the OCEL tests.
 *
 * The JSON schema. Source: the official OCEL 2.0 JSON schema, https://www.ocel-standard.org/2.0/ocel20-schema-json.json
 * (JSON Schema draft-07, linked from https://www.ocel-standard.org/specification/formats/json/ and from the
 * specification, Berti et al., "OCEL (Object-Centric Event Log) 2.0 Specification", 2023,
 * https://www.ocel-standard.org/2.0/ocel20_specification.pdf, arXiv:2403.01975, CC BY 4.0). The schema file
 * carries no licence statement, so it is neither vendored nor copied here: `officialOcel20Constraints` is written
 * by hand, from the specification's JSON section and the format page, to require what that schema requires —
 * the four top-level arrays; type `name` and `attributes` (each `name`, `type`); event `id`, `type`, `time`
 * (date-time); event attribute `name`, `value`; object `id`, `type`; object attribute `name`, `value`, `time`
 * (date-time); relationship `objectId`, `qualifier`; every one of them a string — and `strictOcel20` adds what
 * the specification's text says and that schema leaves open: the five attribute types, no unknown properties.
 * The tests validate against both with ajv (draft-07, formats from ajv-formats). What no JSON schema can say
 * (ids unique, relationships pointing at objects that exist, values readable as their declared type) is
 * checked by `ocelIntegrityProblems`.
 */
const stringProp = { type: 'string' } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const relationship = {
  type: 'object',
  properties: { objectId: stringProp, qualifier: stringProp },
  required: ['objectId', 'qualifier'],
} as const;
const typeDeclaration = {
  type: 'object',
  properties: {
    name: stringProp,
    attributes: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: stringProp, type: stringProp },
        required: ['name', 'type'],
      },
    },
  },
  required: ['name', 'attributes'],
} as const;

export const officialOcel20Constraints = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    eventTypes: { type: 'array', items: typeDeclaration },
    objectTypes: { type: 'array', items: typeDeclaration },
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: stringProp,
          type: stringProp,
          time: dateTime,
          attributes: {
            type: 'array',
            items: {
              type: 'object',
              properties: { name: stringProp, value: stringProp },
              required: ['name', 'value'],
            },
          },
          relationships: { type: 'array', items: relationship },
        },
        required: ['id', 'type', 'time'],
      },
    },
    objects: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: stringProp,
          type: stringProp,
          relationships: { type: 'array', items: relationship },
          attributes: {
            type: 'array',
            items: {
              type: 'object',
              properties: { name: stringProp, value: stringProp, time: dateTime },
              required: ['name', 'value', 'time'],
            },
          },
        },
        required: ['id', 'type'],
      },
    },
  },
  required: ['eventTypes', 'objectTypes', 'events', 'objects'],
};

const closed = (props: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  properties: props,
  required,
  additionalProperties: false,
});
const strictRelationship = closed({ objectId: stringProp, qualifier: stringProp }, ['objectId', 'qualifier']);
const strictType = closed(
  {
    name: stringProp,
    attributes: {
      type: 'array',
      items: closed({ name: stringProp, type: { enum: ['string', 'time', 'integer', 'float', 'boolean'] } }, [
        'name',
        'type',
      ]),
    },
  },
  ['name', 'attributes'],
);
export const strictOcel20 = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  ...closed(
    {
      eventTypes: { type: 'array', items: strictType },
      objectTypes: { type: 'array', items: strictType },
      events: {
        type: 'array',
        items: closed(
          {
            id: stringProp,
            type: stringProp,
            time: dateTime,
            attributes: {
              type: 'array',
              items: closed({ name: stringProp, value: stringProp }, ['name', 'value']),
            },
            relationships: { type: 'array', items: strictRelationship },
          },
          ['id', 'type', 'time', 'attributes', 'relationships'],
        ),
      },
      objects: {
        type: 'array',
        items: closed(
          {
            id: stringProp,
            type: stringProp,
            attributes: {
              type: 'array',
              items: closed({ name: stringProp, value: stringProp, time: dateTime }, [
                'name',
                'value',
                'time',
              ]),
            },
            relationships: { type: 'array', items: strictRelationship },
          },
          ['id', 'type', 'attributes', 'relationships'],
        ),
      },
    },
    ['eventTypes', 'objectTypes', 'events', 'objects'],
  ),
};

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validators = [ajv.compile(officialOcel20Constraints), ajv.compile(strictOcel20)];

/** Schema errors of a parsed OCEL 2.0 JSON document, against both schemas above ([] when valid). */
export function schemaErrors(doc: unknown): string[] {
  return validators.flatMap((v) =>
    v(doc) ? [] : (v.errors ?? []).slice(0, 10).map((e) => `${e.instancePath} ${e.message}`),
  );
}

interface Doc {
  eventTypes: { name: string; attributes: { name: string; type: string }[] }[];
  objectTypes: { name: string; attributes: { name: string; type: string }[] }[];
  events: {
    id: string;
    type: string;
    time: string;
    attributes: { name: string; value: string }[];
    relationships: { objectId: string; qualifier: string }[];
  }[];
  objects: {
    id: string;
    type: string;
    attributes: { name: string; value: string; time: string }[];
    relationships: { objectId: string; qualifier: string }[];
  }[];
}

const readable: Record<string, (v: string) => boolean> = {
  string: () => true,
  time: (v) => !Number.isNaN(Date.parse(v)),
  integer: (v) => /^-?\d+$/.test(v),
  float: (v) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v),
  boolean: (v) => v === 'true' || v === 'false',
};

/**
 * What the specification's metamodel requires beyond the JSON schema (its section 5): event and object ids
 * unique, ids unique across events and objects too (the log's promise), each event and object of a declared
 * type, each attribute declared for its type and readable as the declared type, relationships to objects of the
 * log, no duplicate (event, object, qualifier) or (object, object, qualifier).
 */
export function ocelIntegrityProblems(doc: Doc): string[] {
  const problems: string[] = [];
  const eventTypes = new Map(
    doc.eventTypes.map((t) => [t.name, new Map(t.attributes.map((a) => [a.name, a.type]))]),
  );
  const objectTypes = new Map(
    doc.objectTypes.map((t) => [t.name, new Map(t.attributes.map((a) => [a.name, a.type]))]),
  );
  const ids = new Set<string>();
  for (const x of [...doc.events, ...doc.objects]) {
    if (ids.has(x.id)) problems.push(`id ${x.id} is not unique`);
    ids.add(x.id);
  }
  const objectIds = new Set(doc.objects.map((o) => o.id));
  const check = (
    where: string,
    types: Map<string, Map<string, string>>,
    type: string,
    attributes: { name: string; value: string }[],
    relationships: { objectId: string; qualifier: string }[],
  ) => {
    const declared = types.get(type);
    if (!declared) return problems.push(`${where}: undeclared type ${type}`);
    for (const a of attributes) {
      const t = declared.get(a.name);
      if (!t) problems.push(`${where}: attribute ${a.name} not declared for ${type}`);
      else if (!readable[t](a.value)) problems.push(`${where}: ${a.name}=${a.value} is not a ${t}`);
    }
    const seen = new Set<string>();
    for (const r of relationships) {
      if (!objectIds.has(r.objectId)) problems.push(`${where}: relationship to unknown object ${r.objectId}`);
      const key = JSON.stringify([r.objectId, r.qualifier]);
      if (seen.has(key)) problems.push(`${where}: duplicate relationship ${key}`);
      seen.add(key);
    }
  };
  for (const e of doc.events) check(`event ${e.id}`, eventTypes, e.type, e.attributes, e.relationships);
  for (const o of doc.objects) check(`object ${o.id}`, objectTypes, o.type, o.attributes, o.relationships);
  return problems.slice(0, 20);
}

/**
 * What the OCEL 2.0 SQLite format requires of a file (the specification's relational section, and
 * https://www.ocel-standard.org/2.0/ocel20-schema-relational.pdf): the fixed tables with their columns and
 * primary keys, a per-type table for every type of the map tables, every row of a per-type table and of the
 * relation tables pointing at an event or object of its type, no foreign-key violation.
 */
export function sqliteProblems(db: InstanceType<typeof Database>): string[] {
  const problems: string[] = [];
  const columns = (table: string) =>
    (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string; pk: number }[]).map((c) => ({
      name: c.name,
      pk: c.pk,
    }));
  const expectTable = (table: string, cols: string[], pk: string[]) => {
    const have = columns(table);
    if (have.length === 0) return problems.push(`table ${table} is missing`);
    for (const c of cols) if (!have.some((h) => h.name === c)) problems.push(`${table} lacks ${c}`);
    const keys = have
      .filter((h) => h.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((h) => h.name);
    if (JSON.stringify(keys) !== JSON.stringify(pk))
      problems.push(`${table} primary key ${keys} is not ${pk}`);
  };
  expectTable('event', ['ocel_id', 'ocel_type'], ['ocel_id']);
  expectTable('object', ['ocel_id', 'ocel_type'], ['ocel_id']);
  expectTable('event_map_type', ['ocel_type', 'ocel_type_map'], ['ocel_type']);
  expectTable('object_map_type', ['ocel_type', 'ocel_type_map'], ['ocel_type']);
  expectTable(
    'event_object',
    ['ocel_event_id', 'ocel_object_id', 'ocel_qualifier'],
    ['ocel_event_id', 'ocel_object_id', 'ocel_qualifier'],
  );
  expectTable(
    'object_object',
    ['ocel_source_id', 'ocel_target_id', 'ocel_qualifier'],
    ['ocel_source_id', 'ocel_target_id', 'ocel_qualifier'],
  );
  if (problems.length) return problems;
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  for (const kind of ['event', 'object'] as const) {
    const maps = db.prepare(`SELECT ocel_type AS t, ocel_type_map AS m FROM ${kind}_map_type`).all() as {
      t: string;
      m: string;
    }[];
    const typesInUse = (
      db.prepare(`SELECT DISTINCT ocel_type AS t FROM ${kind}`).all() as { t: string }[]
    ).map((r) => r.t);
    for (const t of typesInUse)
      if (!maps.some((m) => m.t === t)) problems.push(`${kind} type ${t} has no ${kind}_map_type row`);
    for (const { t, m } of maps) {
      const table = `${kind}_${m}`;
      const cols = columns(table);
      if (cols.length === 0) {
        problems.push(`table ${table} is missing`);
        continue;
      }
      for (const c of kind === 'event'
        ? ['ocel_id', 'ocel_time']
        : ['ocel_id', 'ocel_time', 'ocel_changed_field'])
        if (!cols.some((h) => h.name === c)) problems.push(`${table} lacks ${c}`);
      const stray = count(
        `SELECT COUNT(*) AS n FROM "${table}" x LEFT JOIN ${kind} k ON k.ocel_id = x.ocel_id
         WHERE k.ocel_id IS NULL OR k.ocel_type <> '${t.replace(/'/g, "''")}'`,
      );
      if (stray) problems.push(`${table}: ${stray} rows not of a ${kind} of type ${t}`);
      const missing = count(
        `SELECT COUNT(*) AS n FROM (SELECT ocel_id FROM ${kind} WHERE ocel_type = '${t.replace(/'/g, "''")}'
         EXCEPT SELECT ocel_id FROM "${table}")`,
      );
      if (missing) problems.push(`${table}: ${missing} ${kind}s of type ${t} have no row`);
      if (kind === 'event' && count(`SELECT COUNT(*) - COUNT(DISTINCT ocel_id) AS n FROM "${table}"`))
        problems.push(`${table}: an event has two rows`);
    }
  }
  const fk = db.prepare('PRAGMA foreign_key_check').all();
  if (fk.length) problems.push(`${fk.length} foreign-key violations`);
  const dangling =
    count(
      `SELECT COUNT(*) AS n FROM event_object eo LEFT JOIN event e ON e.ocel_id = eo.ocel_event_id
       LEFT JOIN object o ON o.ocel_id = eo.ocel_object_id WHERE e.ocel_id IS NULL OR o.ocel_id IS NULL`,
    ) +
    count(
      `SELECT COUNT(*) AS n FROM object_object oo LEFT JOIN object s ON s.ocel_id = oo.ocel_source_id
       LEFT JOIN object t ON t.ocel_id = oo.ocel_target_id WHERE s.ocel_id IS NULL OR t.ocel_id IS NULL`,
    );
  if (dangling) problems.push(`${dangling} relation rows point at nothing`);
  return problems;
}
