import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricDefinitions } from '../../src/shared/telemetryNames';
import { Snapshot } from './policies';

/**
 * The metric names of the alerts and the workbook are exactly the names the code declares
 * (src/shared/telemetryNames.ts), both ways: every `customMetrics` name a query filters on is declared, every
 * declared metric is queried somewhere, and every declared metric is used by the code.
 */
const main = JSON.parse(readFileSync('infra/main.snapshot.json', 'utf8')) as Snapshot;
const declared: string[] = Object.values(metricDefinitions).map((m) => m.name);

/** The KQL text of every alert query and of the workbook (its serializedData), as deployed. */
function queries(snapshot: Snapshot): string[] {
  const texts: string[] = [];
  for (const r of snapshot.predictedResources) {
    if (r.type === 'Microsoft.Insights/scheduledQueryRules') {
      const allOf = (r.properties?.criteria as { allOf?: { query?: string }[] } | undefined)?.allOf ?? [];
      texts.push(...allOf.map((c) => c.query ?? ''));
    }
    if (r.type === 'Microsoft.Insights/workbooks') texts.push(String(r.properties?.serializedData ?? ''));
  }
  return texts;
}

/** Metric names a query filters `customMetrics` on: `name == "x"`, `name =~ "x"`, `name in ("x", "y")`. */
function queriedMetricNames(text: string): string[] {
  const names: string[] = [];
  for (const part of text.split(/customMetrics/).slice(1)) {
    const table = part.split(/\n\s*(?:requests|traces|dependencies|exceptions|customEvents)\b/)[0];
    for (const m of table.matchAll(/\bname\s*(?:==|=~)\s*\\?["']([^"'\\]+)\\?["']/g)) names.push(m[1]);
    for (const m of table.matchAll(/\bname\s+in\s*\(([^)]*)\)/g)) {
      for (const q of m[1].matchAll(/\\?["']([^"'\\]+)\\?["']/g)) names.push(q[1]);
    }
  }
  return names;
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

describe('the metric names in infra/ are the ones the code emits', () => {
  const inQueries = queries(main).flatMap(queriedMetricNames);

  it('queries customMetrics in the alerts and the workbook', () => {
    expect(inQueries.length).toBeGreaterThan(0);
  });

  it('queries no metric the code does not declare', () => {
    expect([...new Set(inQueries)].filter((n) => !declared.includes(n))).toEqual([]);
  });

  it('queries every metric the code declares', () => {
    expect(declared.filter((n) => !inQueries.includes(n))).toEqual([]);
  });

  it('declares no metric the code does not use', () => {
    const code = sourceFiles('src')
      .filter((f) => !f.endsWith(join('shared', 'telemetryNames.ts')))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const unused = Object.keys(metricDefinitions).filter(
      (key) => !new RegExp(`metricDefinitions\\.${key}\\b|metricDefinitions\\[['"]${key}['"]\\]`).test(code),
    );
    expect(unused).toEqual([]);
  });

  it('notices a query naming a metric that is not declared, in each way of writing it', () => {
    const planted = [
      'customMetrics\n| where name == "orders.not.declared"',
      "customMetrics | where name =~ 'orders.not.declared'",
      'customMetrics\n| where name in ("eventgrid.publisher.parked", "orders.not.declared")',
    ];
    for (const text of planted) {
      expect(queriedMetricNames(text).filter((n) => !declared.includes(n))).toEqual(['orders.not.declared']);
    }
    expect(queriedMetricNames('requests | where name == "GET /api/health"')).toEqual([]);
  });
});
