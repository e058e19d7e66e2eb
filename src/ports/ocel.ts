/**
 * The object-centric event log (OCEL 2.0) as data, and the port that writes its SQLite format.
 *
 * The shape is the OCEL 2.0 JSON format (https://www.ocel-standard.org/specification/formats/json/, and the
 * specification, Berti et al., "OCEL (Object-Centric Event Log) 2.0 Specification", 2023,
 * https://www.ocel-standard.org/2.0/ocel20_specification.pdf, arXiv:2403.01975, CC BY 4.0): four top-level
 * arrays `eventTypes`, `objectTypes`, `events`, `objects`. Attribute values are strings, as the official JSON
 * schema (https://www.ocel-standard.org/2.0/ocel20-schema-json.json) requires; the declared type (`string`,
 * `time`, `integer`, `float`, `boolean`) tells a reader how to read each one.
 */

/** The attribute types OCEL 2.0 knows. */
export type OcelAttributeType = 'string' | 'time' | 'integer' | 'float' | 'boolean';

/** An event or object type with its declared attributes. */
export interface OcelType {
  name: string;
  attributes: { name: string; type: OcelAttributeType }[];
}

/** A qualified relationship to an object (event-to-object or object-to-object). */
export interface OcelRelationship {
  objectId: string;
  qualifier: string;
}

export interface OcelEvent {
  /** Unique across the log's events. */
  id: string;
  type: string;
  /** ISO 8601 UTC. */
  time: string;
  attributes: { name: string; value: string }[];
  relationships: OcelRelationship[];
}

export interface OcelObject {
  /** Unique across the log's objects. */
  id: string;
  type: string;
  /** Time-varying attribute values: each holds from `time` (ISO 8601 UTC) until the next of the same name. */
  attributes: { name: string; value: string; time: string }[];
  /** Object-to-object relationships. */
  relationships: OcelRelationship[];
}

export interface OcelLog {
  eventTypes: OcelType[];
  objectTypes: OcelType[];
  events: OcelEvent[];
  objects: OcelObject[];
}

/** Counts of what a written log holds, to compare the formats. */
export interface OcelCounts {
  events: number;
  objects: number;
  eventObject: number;
  objectObject: number;
  objectAttributeChanges: number;
  eventTypes: number;
  objectTypes: number;
}

/** Writes a log in the OCEL 2.0 SQLite format (src/adapters/ocel/sqliteOcelWriter.ts). */
export interface OcelSqliteWriter {
  /**
   * Writes `log` to a new SQLite file at `path` (an existing file there is replaced) and returns what it holds.
   * @throws Error when the file cannot be written
   */
  write(log: OcelLog, path: string): Promise<OcelCounts>;
}
