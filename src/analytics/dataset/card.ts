import { createHash } from 'node:crypto';
import { ColumnSpec, dayMs, PurchaseDatasetSummary, purchaseColumns } from './purchase';

/**
 * The dataset card written beside the Parquet file and the MLTable (`dataset-card.json`, `README.md`): what the
 * table holds, how it was built and the rule that keeps the future out of its features.
 */
export interface DatasetCard {
  name: string;
  task: string;
  builtAt: string;
  command: string;
  files: { data: string; mltable: string };
  horizon: string;
  step: string;
  rows: number;
  positives: number;
  /** positives / rows; null for an empty table. */
  baseRate: number | null;
  byEntity: Record<string, { rows: number; positives: number; baseRate: number | null }>;
  timeRange: {
    firstObservation: string | null;
    lastObservation: string | null;
    observationTimes: number;
    droppedObservationTimes: number;
    dataStart: string | null;
    dataEnd: string | null;
  };
  source: { events: number; importedEvents: number; unknownEvents: number; rowsWithImportedHistory: number };
  leakageRule: string;
  importedHistory: string;
  label: string;
  rowShape: string;
  columns: { name: string; type: string; nullable: boolean; role: string; definition: string }[];
  /** SHA-256 (hex) of the JSON array of `[name, type, nullable]` of every column in order. */
  schemaHash: string;
}

export const leakageRule =
  'A feature of observation time t uses only events with occurredAt ≤ t AND recordedAt ≤ t (what the store knew at t). ' +
  'Events are filtered, not cut at the first unknown one, so an event recorded late hides nothing known earlier.';

export const importedHistoryRule =
  'Imported history (metadata.actor "import:…", e.g. the Olist import) has recordedAt = the time of the import, so ' +
  'for those events the rule uses business time alone: occurredAt ≤ t. Rows built from such events have ' +
  'imported_history = true; their features are what the source system knew by business time, not what this store knew.';

/** SHA-256 hex of the columns' names, types and nullability, in order: changes when the table's schema does. */
export function schemaHash(columns: readonly ColumnSpec[] = purchaseColumns): string {
  const canonical = JSON.stringify(columns.map((col) => [col.name, col.type, col.nullable]));
  return createHash('sha256').update(canonical).digest('hex');
}

/** Formats milliseconds as the first of `Nd`, `Nh`, `Nm` that is exact (7 days is `7d`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', dayMs],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const rate = (positives: number, rows: number): number | null => (rows ? positives / rows : null);

export interface CardInput {
  summary: PurchaseDatasetSummary;
  unknownEvents: number;
  builtAt: Date;
  command: string;
  files: { data: string; mltable: string };
}

/** The card of a purchase training set. */
export function purchaseCard(input: CardInput): DatasetCard {
  const s = input.summary;
  const horizon = formatDuration(s.horizonMs);
  return {
    name: `purchase-${horizon}`,
    task: 'binary classification: will a customer (or an open order) purchase within the horizon',
    builtAt: input.builtAt.toISOString(),
    command: input.command,
    files: input.files,
    horizon,
    step: formatDuration(s.stepMs),
    rows: s.rows,
    positives: s.positives,
    baseRate: rate(s.positives, s.rows),
    byEntity: Object.fromEntries(
      Object.entries(s.byEntity).map(([entity, e]) => [
        entity,
        { rows: e.rows, positives: e.positives, baseRate: rate(e.positives, e.rows) },
      ]),
    ),
    timeRange: {
      firstObservation: iso(s.firstObservation),
      lastObservation: iso(s.lastObservation),
      observationTimes: s.observationTimes,
      droppedObservationTimes: s.droppedObservationTimes,
      dataStart: iso(s.dataStart),
      dataEnd: iso(s.dataEnd),
    },
    source: {
      events: s.events,
      importedEvents: s.importedEvents,
      unknownEvents: input.unknownEvents,
      rowsWithImportedHistory: s.rowsWithImportedHistory,
    },
    leakageRule,
    importedHistory: importedHistoryRule,
    label:
      `true when an OrderSubmitted or OrderAccepted of the customer (customer rows) or of the order (order rows) ` +
      `occurred in (t, t + ${horizon}] by business time. Observation times whose window passes the end of the ` +
      'data (the latest known time) are dropped.',
    rowShape:
      'one table; per observation time t, one row per customer with an order known at t (entity = "customer", ' +
      'order_id null) and one row per order open at t, i.e. draft or submitted (entity = "order"); ' +
      'train on one entity at a time',
    columns: purchaseColumns.map((col) => ({ ...col })),
    schemaHash: schemaHash(),
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)} %`);

/** The card as Markdown (README.md of the dataset folder). */
export function cardMarkdown(card: DatasetCard): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `# Dataset ${card.name}`,
    '',
    `${card.task}. Built ${card.builtAt} by \`${card.command}\`.`,
    '',
    `| | rows | positives | base rate |`,
    `| --- | ---: | ---: | ---: |`,
    `| all | ${n(card.rows)} | ${n(card.positives)} | ${pct(card.baseRate)} |`,
    ...Object.entries(card.byEntity).map(
      ([entity, e]) => `| ${entity} | ${n(e.rows)} | ${n(e.positives)} | ${pct(e.baseRate)} |`,
    ),
    '',
    `- Observation times: ${card.timeRange.observationTimes} from ${card.timeRange.firstObservation} to ` +
      `${card.timeRange.lastObservation}, every ${card.step}; ${card.timeRange.droppedObservationTimes} dropped ` +
      `(label window past the end of the data).`,
    `- Data known from ${card.timeRange.dataStart} to ${card.timeRange.dataEnd}: ${n(card.source.events)} events, ` +
      `${n(card.source.importedEvents)} imported, ${n(card.source.unknownEvents)} of unknown types left out.`,
    `- Files: \`${card.files.data}\` (Parquet), \`${card.files.mltable}\` (MLTable).`,
    `- Schema hash (SHA-256 of the columns' names, types, nullability): \`${card.schemaHash}\`.`,
    '',
    '## Leakage rule',
    '',
    card.leakageRule,
    '',
    `**Imported history.** ${card.importedHistory} Rows with imported history: ` +
      `${n(card.source.rowsWithImportedHistory)}.`,
    '',
    '## Label',
    '',
    card.label,
    '',
    '## Row shape',
    '',
    card.rowShape + '.',
    '',
    '## Columns',
    '',
    '| column | type | role | definition |',
    '| --- | --- | --- | --- |',
    ...card.columns.map(
      (col) =>
        `| \`${col.name}\` | ${col.type}${col.nullable ? ' (nullable)' : ''} | ${col.role} | ${col.definition} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
