import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, startTestHost, TestHost } from '../support/host';

/*
 * The Azure path of src/telemetry/start.ts, with the real Azure Monitor exporter (@azure/monitor-opentelemetry)
 * and without Azure: the app's APPLICATIONINSIGHTS_CONNECTION_STRING names an ingestion endpoint of this test,
 * served over HTTPS with a certificate generated here and trusted by the host process through
 * NODE_EXTRA_CA_CERTS (the exporter sends a bearer token only over TLS). The token comes from the app's
 * credential (`azureCredential`, DefaultAzureCredential) through the App Service managed identity protocol
 * (IDENTITY_ENDPOINT, IDENTITY_HEADER), answered by this test as the platform would: identity-based ingestion,
 * as on Azure where the resource refuses the key alone. Statsbeat (the SDK's own telemetry to Microsoft) and
 * Live Metrics are off, so nothing leaves the machine.
 */

interface Envelope {
  name: string;
  iKey?: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

const token = `test-token-${Date.now()}`;
const clientId = '00000000-0000-0000-0000-0000000a11ce';
const instrumentationKey = '11111111-2222-3333-4444-555555555555';
const identityHeader = 'identity-header-of-the-test';

let ingestion: Server;
let identity: Server;
let host: TestHost;
let dir: string;
const envelopes: Envelope[] = [];
const authorizations: string[] = [];
const tokenRequests: URL[] = [];

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orders-ai-'));
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  const caFile = join(dir, 'ingestion.pem');
  writeFileSync(caFile, pems.cert);

  // The ingestion endpoint: POST {IngestionEndpoint}/v2.1/track, a JSON array of envelopes.
  ingestion = createHttpsServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    void body(req).then((raw) => {
      authorizations.push(String(req.headers.authorization ?? ''));
      const text = raw.toString('utf8').trim();
      const items = (text.startsWith('[') ? JSON.parse(text) : text.split('\n').map((l) => JSON.parse(l))) as
        Envelope[] | Envelope;
      envelopes.push(...(Array.isArray(items) ? items : [items]));
      const count = Array.isArray(items) ? items.length : 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: count, itemsAccepted: count, errors: [] }));
    });
  });
  await new Promise<void>((r) => ingestion.listen(0, '127.0.0.1', r));

  // The App Service managed identity endpoint (api-version 2019-08-01), as the platform serves it.
  identity = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    tokenRequests.push(url);
    if (req.headers['x-identity-header'] !== identityHeader) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource: url.searchParams.get('resource'),
        token_type: 'Bearer',
        client_id: url.searchParams.get('client_id') ?? clientId,
      }),
    );
  });
  await new Promise<void>((r) => identity.listen(0, '127.0.0.1', r));

  const ingestionUrl = `https://127.0.0.1:${(ingestion.address() as AddressInfo).port}/`;
  host = await startTestHost({
    APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=${ingestionUrl}`,
    NODE_EXTRA_CA_CERTS: caFile,
    APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
    APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
    IDENTITY_ENDPOINT: `http://127.0.0.1:${(identity.address() as AddressInfo).port}/msi/token`,
    IDENTITY_HEADER: identityHeader,
    AZURE_CLIENT_ID: clientId,
    LOG_LEVEL: 'debug',
  });
});

afterAll(async () => {
  await host?.stop();
  for (const server of [ingestion, identity]) {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ofType = (baseType: string) => envelopes.filter((e) => e.data?.baseType === baseType);
const operationOf = (e: Envelope) => e.tags?.['ai.operation.id'];

describe('the Azure Monitor exporter, against a local HTTPS ingestion endpoint', () => {
  const orderId = `ai-${Date.now()}`;
  let operationId: string;
  let request: Envelope;

  beforeAll(async () => {
    const created = await call(host, 'POST', '/api/orders', { orderId, customerId: 'cust-ai' });
    expect(created.status).toBe(201);
    request = await eventually(async () =>
      ofType('RequestData').find((e) => String(e.data?.baseData?.url ?? '').endsWith('/api/orders')),
    );
    operationId = operationOf(request)!;
    const expected = ['createOrder', 'decide CreateOrder', 'append events', 'send eventgrid'];
    await eventually(async () => {
      const names = new Set(
        ofType('RemoteDependencyData')
          .filter((e) => operationOf(e) === operationId)
          .map((e) => e.data?.baseData?.name),
      );
      return expected.every((n) => names.has(n)) ? true : undefined;
    });
  });

  it('receives the request and the dependencies of one command under one operation id, the trace id', () => {
    expect(operationId).toMatch(/^[0-9a-f]{32}$/);
    expect(request.iKey).toBe(instrumentationKey);
    expect(request.data?.baseData).toMatchObject({ name: 'POST /api/orders', responseCode: '201' });
    expect(String(request.data?.baseData?.url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/orders$/);
    const dependencies = ofType('RemoteDependencyData')
      .filter((e) => operationOf(e) === operationId)
      .map((e) => e.data?.baseData?.name);
    expect(dependencies).toEqual(
      expect.arrayContaining(['createOrder', 'decide CreateOrder', 'append events']),
    );
  });

  it('sends every item with the bearer token of the app identity, for the Azure Monitor audience', () => {
    expect(authorizations.length).toBeGreaterThan(0);
    expect([...new Set(authorizations)]).toEqual([`Bearer ${token}`]);
    expect(tokenRequests.length).toBeGreaterThan(0);
    for (const url of tokenRequests) {
      expect(url.searchParams.get('resource')).toBe('https://monitor.azure.com');
      expect(url.searchParams.get('client_id')).toBe(clientId);
    }
  });

  it('correlates the log records of the invocations that followed the command with its operation', async () => {
    const traces = await eventually(async () => {
      const mine = ofType('MessageData').filter(
        (e) =>
          operationOf(e) === operationId &&
          /read model: 1 commits applied/.test(String(e.data?.baseData?.message)),
      );
      return mine.length ? mine : undefined;
    });
    expect(traces[0].tags?.['ai.operation.parentId']).toMatch(/^[0-9a-f]{16}$/);
  });
});
