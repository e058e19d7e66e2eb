/**
 * Policy rules over the deployment snapshot (`bicep snapshot`: `predictedResources` and `outputs`). Each rule
 * returns the violations it finds, one line each, naming the resource; test/infra/policies.spec.ts runs them on
 * the committed snapshot and proves each one fails on a planted violation.
 */
export interface PredictedResource {
  id?: string;
  type: string;
  name: string;
  properties?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  outputs?: Record<string, unknown>;
}

export interface Policy {
  name: string;
  check(snapshot: Snapshot): string[];
}

/** Built-in Azure roles the deployment may grant, by role definition GUID (learn.microsoft.com/azure/role-based-access-control/built-in-roles). */
export const allowedRoles = new Map([
  [
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Blob Data Owner (host storage: the Functions host manages its blobs)',
  ],
  ['ba92f5b4-2d11-453d-a403-e96b0029c9fe', 'Storage Blob Data Contributor'],
  ['2a2b9908-6ea1-4ae2-8e65-a410df84e7d1', 'Storage Blob Data Reader'],
  ['974c5e8b-45b9-4653-ba55-5f855dd0fb88', 'Storage Queue Data Contributor (Durable Functions queues)'],
  ['0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', 'Storage Table Data Contributor (Durable Functions history)'],
  ['d5a91429-5739-47e2-a06b-3470a27159e7', 'EventGrid Data Sender'],
  ['3913510d-42f4-4e42-8a64-420c390055eb', 'Monitoring Metrics Publisher'],
]);

/** Cosmos DB built-in data-plane roles (learn.microsoft.com/azure/cosmos-db/nosql/security/reference-data-plane-roles). */
export const allowedCosmosRoles = new Map([
  ['00000000-0000-0000-0000-000000000001', 'Cosmos DB Built-in Data Reader'],
  ['00000000-0000-0000-0000-000000000002', 'Cosmos DB Built-in Data Contributor'],
]);

const props = (r: PredictedResource): Record<string, unknown> => r.properties ?? {};
const ofType = (s: Snapshot, type: string) =>
  s.predictedResources.filter((r) => r.type.toLowerCase() === type.toLowerCase());
const label = (r: PredictedResource) => `${r.type} ${r.name}`;
const dig = (o: unknown, path: string[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );

/** Each rule: where a property must have a value, the resources of a type that break it. */
function mustEqual(name: string, type: string, path: string[], expected: unknown): Policy {
  return {
    name,
    check: (s) =>
      ofType(s, type)
        .filter((r) => dig(props(r), path) !== expected)
        .map(
          (r) =>
            `${label(r)}: properties.${path.join('.')} is ${JSON.stringify(dig(props(r), path))}, not ${JSON.stringify(expected)}`,
        ),
  };
}

/** Words that name a credential: never in an output's name, and no output value may call a list* function. */
const secretWords = /key|secret|password|connectionstring|token|sas|credential/i;
const secretCalls =
  /list(Keys|Secrets|CallbackUrl|ConnectionStrings|AccountSas|ServiceSas)\s*\(|AccountKey=|SharedAccessSignature=|[?&]sig=/i;

export const policies: Policy[] = [
  mustEqual(
    'storage accounts require TLS 1.2',
    'Microsoft.Storage/storageAccounts',
    ['minimumTlsVersion'],
    'TLS1_2',
  ),
  mustEqual(
    'storage accounts allow no public blob access',
    'Microsoft.Storage/storageAccounts',
    ['allowBlobPublicAccess'],
    false,
  ),
  mustEqual(
    'storage accounts refuse shared keys',
    'Microsoft.Storage/storageAccounts',
    ['allowSharedKeyAccess'],
    false,
  ),
  mustEqual(
    'storage accounts take HTTPS only',
    'Microsoft.Storage/storageAccounts',
    ['supportsHttpsTrafficOnly'],
    true,
  ),
  mustEqual(
    'Cosmos DB requires TLS 1.2',
    'Microsoft.DocumentDB/databaseAccounts',
    ['minimalTlsVersion'],
    'Tls12',
  ),
  mustEqual(
    'Cosmos DB has local (key) auth disabled',
    'Microsoft.DocumentDB/databaseAccounts',
    ['disableLocalAuth'],
    true,
  ),
  mustEqual(
    'Event Grid topics have local (key) auth disabled',
    'Microsoft.EventGrid/topics',
    ['disableLocalAuth'],
    true,
  ),
  mustEqual(
    'Event Grid topics take CloudEvents 1.0',
    'Microsoft.EventGrid/topics',
    ['inputSchema'],
    'CloudEventSchemaV1_0',
  ),
  mustEqual(
    'Application Insights has local auth disabled',
    'Microsoft.Insights/components',
    ['DisableLocalAuth'],
    true,
  ),
  mustEqual('sites are HTTPS only', 'Microsoft.Web/sites', ['httpsOnly'], true),
  mustEqual('sites require TLS 1.2', 'Microsoft.Web/sites', ['siteConfig', 'minTlsVersion'], '1.2'),
  {
    name: 'there is one of each resource the system needs',
    check: (s) =>
      [
        'Microsoft.Web/sites',
        'Microsoft.DocumentDB/databaseAccounts',
        'Microsoft.EventGrid/topics',
        'Microsoft.Insights/components',
        'Microsoft.Storage/storageAccounts',
      ]
        .filter((t) => ofType(s, t).length === 0)
        .map((t) => `no ${t} in the deployment`),
  },
  {
    name: 'the events container is partitioned by /orderId and the leases by /id',
    check: (s) => {
      const containers = ofType(s, 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers');
      const keyOf = (id: string) => {
        const c = containers.find((r) => dig(props(r), ['resource', 'id']) === id);
        return c ? JSON.stringify(dig(props(c), ['resource', 'partitionKey', 'paths'])) : 'missing';
      };
      const found: string[] = [];
      if (keyOf('events') !== '["/orderId"]')
        found.push(`events container partition key: ${keyOf('events')}`);
      if (keyOf('leases') !== '["/id"]') found.push(`leases container partition key: ${keyOf('leases')}`);
      return found;
    },
  },
  {
    name: 'event subscriptions deliver CloudEvents 1.0 and dead-letter with an identity',
    check: (s) =>
      ofType(s, 'Microsoft.EventGrid/topics/eventSubscriptions').flatMap((r) => {
        const found: string[] = [];
        if (props(r).eventDeliverySchema !== 'CloudEventSchemaV1_0')
          found.push(`${label(r)}: eventDeliverySchema ${String(props(r).eventDeliverySchema)}`);
        if (!dig(props(r), ['deadLetterWithResourceIdentity', 'identity', 'type']))
          found.push(`${label(r)}: no deadLetterWithResourceIdentity`);
        return found;
      }),
  },
  {
    name: 'role assignments grant only least-privilege built-in roles',
    check: (s) =>
      ofType(s, 'Microsoft.Authorization/roleAssignments').flatMap((r) => {
        const id = String(props(r).roleDefinitionId ?? '');
        const guid = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'?\)?\]?$/i.exec(id)?.[1];
        return guid && allowedRoles.has(guid.toLowerCase())
          ? []
          : [`${label(r)}: role ${id} is not on the allowlist`];
      }),
  },
  {
    name: 'Cosmos DB data-plane roles are built-in data roles',
    check: (s) =>
      ofType(s, 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments').flatMap((r) => {
        const id = String(props(r).roleDefinitionId ?? '');
        const guid = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'?\)?\]?$/i.exec(id)?.[1];
        return guid && allowedCosmosRoles.has(guid)
          ? []
          : [`${label(r)}: Cosmos DB role ${id} is not a built-in data role`];
      }),
  },
  {
    name: 'no output carries a secret',
    check: (s) =>
      Object.entries(s.outputs ?? {}).flatMap(([name, value]) => {
        const text = JSON.stringify(value);
        const found: string[] = [];
        if (secretWords.test(name)) found.push(`output ${name}: its name names a credential`);
        if (secretCalls.test(text)) found.push(`output ${name}: its value reads a key or signed URL`);
        return found;
      }),
  },
  {
    name: 'no app setting carries a key, signed URL or secret',
    check: (s) =>
      ofType(s, 'Microsoft.Web/sites').flatMap((r) =>
        (
          (dig(props(r), ['siteConfig', 'appSettings']) as { name: string; value: unknown }[] | undefined) ??
          []
        )
          .filter((a) => secretCalls.test(JSON.stringify(a.value)) || /KEY$|SECRET|PASSWORD/i.test(a.name))
          .map((a) => `${label(r)}: app setting ${a.name} carries a credential`),
      ),
  },
];
