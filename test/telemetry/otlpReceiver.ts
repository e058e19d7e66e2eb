import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/**
 * An OTLP/HTTP receiver for tests, the collector end of what `npm start` sends with OTEL_EXPORTER_OTLP_ENDPOINT:
 * it answers `/v1/traces`, `/v1/metrics` and `/v1/logs` (JSON, the encoding src/telemetry/start.ts exports) and
 * keeps every span, metric data point and log record in memory, decoded from the OTLP JSON encoding
 * (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as hex, attributes as plain values.
 */

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  links: { traceId: string; spanId: string; attributes: Record<string, AttributeValue> }[];
  status: { code?: number; message?: string };
  scope: string;
  startNanos: bigint;
}

export interface ReceivedDataPoint {
  metric: string;
  unit?: string;
  kind: 'sum' | 'gauge' | 'histogram';
  attributes: Record<string, AttributeValue>;
  /** A sum's or gauge's value; a histogram's sum. */
  value: number;
  /** Histograms: how many values were recorded. */
  count?: number;
  /** The export it came in, counted from 1 (data points are cumulative: the last export holds the totals). */
  exportNumber: number;
  /**
   * Which exporter sent it: its resource's `service.instance.id` ('' without one). The local host exports from
   * two threads, as a function app does from each worker.
   */
  source: string;
}

export interface ReceivedLog {
  traceId?: string;
  spanId?: string;
  severityText?: string;
  body: AttributeValue;
  attributes: Record<string, AttributeValue>;
}

export const spanKinds = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

const valueOf = (v: OtlpAnyValue | undefined): AttributeValue => {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
};
const attributesOf = (list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

/* eslint-disable @typescript-eslint/no-explicit-any -- the OTLP JSON documents, read field by field */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly points: ReceivedDataPoint[] = [];
  readonly logs: ReceivedLog[] = [];
  /** Requests that were not OTLP JSON (content type, path), for a failing test to show. */
  readonly refused: string[] = [];
  private metricExports = 0;

  private readonly server: Server = createServer((req, res) => {
    void this.receive(req).then((ok) => {
      res.writeHead(ok ? 200 : 415, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((r) => receiver.server.listen(0, '127.0.0.1', r));
    return receiver;
  }

  /** The base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** The data points of a metric from its last export (cumulative temporality: the totals). */
  latest(metric: string): ReceivedDataPoint[] {
    const all = this.points.filter((p) => p.metric === metric);
    // Per exporter, its last export that holds the metric (the totals), together.
    const last = new Map<string, number>();
    for (const p of all) last.set(p.source, Math.max(last.get(p.source) ?? 0, p.exportNumber));
    return all.filter((p) => p.exportNumber === last.get(p.source));
  }

  private async receive(req: IncomingMessage): Promise<boolean> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    if (!String(req.headers['content-type']).startsWith('application/json')) {
      this.refused.push(`${req.url} ${req.headers['content-type']}`);
      return false;
    }
    const doc = JSON.parse(body.toString('utf8')) as any;
    if (req.url === '/v1/traces') this.addSpans(doc);
    else if (req.url === '/v1/metrics') this.addMetrics(doc);
    else if (req.url === '/v1/logs') this.addLogs(doc);
    else {
      this.refused.push(`${req.url}`);
      return false;
    }
    return true;
  }

  private addSpans(doc: any): void {
    for (const rs of doc.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
            name: s.name,
            kind: s.kind,
            attributes: attributesOf(s.attributes),
            links: (s.links ?? []).map((l: any) => ({
              traceId: l.traceId,
              spanId: l.spanId,
              attributes: attributesOf(l.attributes),
            })),
            status: s.status ?? {},
            scope: ss.scope?.name ?? '',
            startNanos: BigInt(s.startTimeUnixNano ?? 0),
          });
        }
      }
    }
  }

  private addMetrics(doc: any): void {
    const exportNumber = ++this.metricExports;
    for (const rm of doc.resourceMetrics ?? []) {
      const source = String(attributesOf(rm.resource?.attributes)['service.instance.id'] ?? '');
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const [kind, data] = m.sum
            ? (['sum', m.sum] as const)
            : m.histogram
              ? (['histogram', m.histogram] as const)
              : (['gauge', m.gauge] as const);
          for (const p of data?.dataPoints ?? []) {
            this.points.push({
              metric: m.name,
              unit: m.unit,
              kind,
              attributes: attributesOf(p.attributes),
              value: Number(p.asDouble ?? p.asInt ?? p.sum ?? 0),
              ...(kind === 'histogram' ? { count: Number(p.count ?? 0) } : {}),
              exportNumber,
              source,
            });
          }
        }
      }
    }
  }

  private addLogs(doc: any): void {
    for (const rl of doc.resourceLogs ?? []) {
      for (const sl of rl.scopeLogs ?? []) {
        for (const l of sl.logRecords ?? []) {
          this.logs.push({
            ...(l.traceId ? { traceId: l.traceId } : {}),
            ...(l.spanId ? { spanId: l.spanId } : {}),
            severityText: l.severityText,
            body: valueOf(l.body),
            attributes: attributesOf(l.attributes),
          });
        }
      }
    }
  }
}
