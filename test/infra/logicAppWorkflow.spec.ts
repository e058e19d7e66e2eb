import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { approvalRoute } from '../../src/http/routes';
import { openApiDocument } from '../../src/http/openapi';
import {
  actionsBefore,
  actionSites,
  checkExpressions,
  checkPlacement,
  checkRunAfter,
  checkShape,
  checkTypes,
  checkWorkflow,
  exampleOf,
  expressionsOf,
  findAction,
  isObject,
  Json,
  JsonObject,
  loadWorkflow,
  logicAppModulePath,
  splitString,
  stringsOf,
} from '../support/workflow';

/**
 * The order-approval Logic App's workflow definition (infra/logicapp/order-approval.workflow.json), checked
 * without an Azure account: its structure (what Azure would refuse on deploy or fail on at run time), the
 * approval call against the API's own schemas, and how it answers Event Grid. Each check is also shown to
 * fail on a violation planted in a copy of the definition.
 */

const definition = loadWorkflow();
const copy = (): JsonObject => structuredClone(definition);
const bicep = readFileSync(logicAppModulePath, 'utf8');
const subscriptions = JSON.parse(
  readFileSync(resolve(__dirname, '../../infra/generated/event-subscriptions.json'), 'utf8'),
) as { typePrefix: string; subscriptions: { name: string; includedEventTypes: string[] }[] };

/** The action of a copy, to plant a violation in. */
function actionOf(def: JsonObject, name: string): JsonObject {
  const site = findAction(def, name);
  if (!site) throw new Error(`no action ${name}`);
  return site.action;
}

const anyMatch = (problems: string[], pattern: RegExp) =>
  expect(problems.filter((p) => pattern.test(p))).not.toEqual([]);

// ---------------------------------------------------------------------------------------------------------
// The approval call: the Http action that POSTs to the approval route.

const routePath = `/api/${approvalRoute.route}`; // /api/orders/{orderId}/approval

/** The Http actions whose URI, with its expressions as {placeholders}, is the approval route. */
function approvalCalls(def: JsonObject) {
  const pattern = new RegExp(`^\\{\\}${routePath.replace('{orderId}', '\\{\\}')}$`);
  return actionSites(def).filter((s) => {
    if (s.action.type !== 'Http' || !isObject(s.action.inputs) || typeof s.action.inputs.uri !== 'string')
      return false;
    const split = splitString(s.action.inputs.uri);
    const shape =
      split.kind === 'template' ? split.parts.map((p) => ('text' in p ? p.text : '{}')).join('') : '';
    return pattern.test(shape);
  });
}

/** The OpenAPI request schema of the approval route, its $refs resolved. */
function openApiApprovalSchema(): Record<string, unknown> {
  const doc = openApiDocument() as {
    paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: unknown }> } }>>;
  };
  const resolveRefs = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(resolveRefs);
    if (typeof v !== 'object' || v === null) return v;
    const ref = (v as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const target = ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], doc);
      return resolveRefs(target);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveRefs(x)]));
  };
  const operation = doc.paths[routePath][approvalRoute.method.toLowerCase()];
  return resolveRefs(operation.requestBody.content['application/json'].schema) as Record<string, unknown>;
}

/**
 * What is wrong with the approval call: it is missing or not unique, its method or authentication differ
 * from what the route needs, or its body (expressions replaced by examples of their type) is refused by the
 * route's zod schema or by the OpenAPI document's request schema.
 */
function approvalCallProblems(def: JsonObject): string[] {
  const calls = approvalCalls(def);
  if (calls.length !== 1)
    return [`${calls.length} actions call ${approvalRoute.method} ${routePath}, not one`];
  const [call] = calls;
  const inputs = call.action.inputs as JsonObject;
  const problems: string[] = [];
  if (typeof inputs.method !== 'string' || inputs.method.toUpperCase() !== approvalRoute.method)
    problems.push(`${call.path}: method ${String(inputs.method)} is not ${approvalRoute.method}`);
  if (typeof inputs.uri !== 'string' || !inputs.uri.startsWith("@{parameters('apiBaseUrl')}/api/"))
    problems.push(`${call.path}: the URI does not start with the apiBaseUrl parameter`);
  const auth = isObject(inputs.authentication) ? inputs.authentication : {};
  if (auth.type !== 'ManagedServiceIdentity' || auth.audience !== "@parameters('apiAudience')")
    problems.push(`${call.path}: not authenticated by the managed identity for the apiAudience parameter`);
  let body: Json;
  try {
    body = exampleOf(inputs.body ?? null, `${call.path}.inputs.body`);
  } catch (err) {
    return [...problems, (err as Error).message];
  }
  const zod = approvalRoute.body!.safeParse(body);
  if (!zod.success)
    problems.push(`${call.path}: the route refuses the body ${JSON.stringify(body)}: ${zod.error.message}`);
  const openApi = z
    .fromJSONSchema(openApiApprovalSchema() as Parameters<typeof z.fromJSONSchema>[0])
    .safeParse(body);
  if (!openApi.success)
    problems.push(
      `${call.path}: the OpenAPI schema refuses the body ${JSON.stringify(body)}: ${openApi.error.message}`,
    );
  return problems;
}

// ---------------------------------------------------------------------------------------------------------

describe('the order-approval workflow definition', () => {
  it('passes every structural check', () => {
    expect(checkWorkflow(definition)).toEqual([]);
  });

  it('has the Workflow Definition Language shape: $schema, contentVersion, parameters, triggers, actions, outputs', () => {
    expect(checkShape(definition)).toEqual([]);
    expect(Object.keys(definition).sort()).toEqual(
      ['$schema', 'actions', 'contentVersion', 'outputs', 'parameters', 'triggers'].sort(),
    );
  });

  it('holds no environment-specific value: no URL but its $schema, no mailbox, no type prefix, no GUID', () => {
    const { $schema, ...rest } = definition;
    void $schema;
    const values = stringsOf(rest, '').map((s) => s.value);
    expect(values.filter((v) => /https?:\/\//.test(v))).toEqual([]);
    expect(values.filter((v) => /[\w.+-]+@[\w-]+\.[\w.]+/.test(v))).toEqual([]);
    expect(values.filter((v) => v.includes(subscriptions.typePrefix))).toEqual([]);
    expect(
      values.filter((v) => /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.test(v)),
    ).toEqual([]);
  });

  it('gets a value from the Bicep module for every parameter it declares without a default', () => {
    const parameters = definition.parameters as JsonObject;
    const needed = Object.entries(parameters).filter(([, p]) => isObject(p) && !('defaultValue' in p));
    expect(needed.length).toBeGreaterThan(0);
    for (const [name] of [...needed, ['$connections']]) {
      const key = /^\w+$/.test(name) ? name : `'${name.replace(/\$/g, '\\$')}'`;
      expect(bicep, `the module passes ${name}`).toMatch(new RegExp(`\\n\\s*${key}: \\{\\n\\s*value: `));
    }
  });

  it('is loaded by the module, which lists the callback URL of the one trigger the definition declares', () => {
    expect(bicep).toContain("loadJsonContent('../logicapp/order-approval.workflow.json')");
    const triggers = Object.keys(definition.triggers as JsonObject);
    expect(bicep).toMatch(new RegExp(`var triggerName = '${triggers[0]}'`));
    expect(bicep).toMatch(/endpointUrl: trigger\.listCallbackUrl\(\)\.value/);
    expect(bicep).not.toMatch(/output .*listCallbackUrl/);
  });
});

describe('how it answers Event Grid', () => {
  const trigger = Object.values(definition.triggers as JsonObject)[0] as JsonObject;

  it('takes every method at its Request trigger, so the OPTIONS of the CloudEvents handshake reaches it', () => {
    expect(trigger.type).toBe('Request');
    expect(trigger.kind).toBe('Http');
    expect(isObject(trigger.inputs) && 'method' in trigger.inputs).toBe(false);
    expect(trigger.operationOptions ?? '').not.toMatch(/EnableSchemaValidation/);
  });

  it('answers a request with WebHook-Request-Origin and no body with 200 and WebHook-Allowed-Origin echoing it', () => {
    const handshake = findAction(definition, 'Is_webhook_handshake')!;
    const condition = expressionsOf(handshake.action.expression as Json, 'expression').map((e) => e.source);
    expect(condition.join(' ')).toContain("triggerOutputs()?['headers']?['WebHook-Request-Origin']");
    expect(condition.join(' ')).toContain('empty(coalesce(triggerBody()');
    const answer = findAction(definition, 'Answer_webhook_handshake')!;
    expect(answer.containers.map((c) => c.name)).toEqual(['Is_webhook_handshake']);
    expect(answer.path).toBe('actions.Is_webhook_handshake.actions.Answer_webhook_handshake');
    expect(answer.action.inputs).toEqual({
      statusCode: 200,
      headers: {
        'WebHook-Allowed-Origin': "@{triggerOutputs()?['headers']?['WebHook-Request-Origin']}",
        'WebHook-Allowed-Rate': '*',
        Allow: 'POST, OPTIONS',
      },
    });
  });

  it('answers Event Grid before it waits for a person, so a day-long approval does not hold the delivery', () => {
    const waits = actionSites(definition).filter((s) => s.action.type === 'ApiConnectionWebhook');
    expect(waits.map((w) => w.name)).toEqual(['Send_approval_email']);
    const responses = new Set(
      actionSites(definition)
        .filter((s) => s.action.type === 'Response')
        .map((s) => s.name),
    );
    for (const wait of waits) {
      const answeredBefore = [...actionsBefore(wait)].filter((n) => responses.has(n));
      expect(answeredBefore, `${wait.name} waits after a Response`).toEqual(['Accept_before_waiting']);
      expect((findAction(definition, 'Accept_before_waiting')!.action.inputs as JsonObject).statusCode).toBe(
        202,
      );
    }
  });

  it('handles exactly the event types of the orderApproval subscription, at the prefix Bicep passes', () => {
    const kinds = String((actionOf(definition, 'Event_kind') as { inputs: string }).inputs);
    const suffixes = [...kinds.matchAll(/concat\(parameters\('eventTypePrefix'\), '([^']+)'\)/g)].map(
      (m) => m[1],
    );
    const handled = suffixes.map((s) => subscriptions.typePrefix + s).sort();
    const orderApproval = subscriptions.subscriptions.find((s) => s.name === 'orderApproval')!;
    expect(handled).toEqual([...orderApproval.includedEventTypes].sort());
    expect(bicep).toMatch(/eventTypePrefix: \{\n\s*value: eventSubscriptions\.typePrefix/);
    expect(bicep).toMatch(/includedEventTypes: orderApproval\.includedEventTypes/);
  });

  it('compares the total with the threshold as decimals, not as strings', () => {
    const condition = expressionsOf(actionOf(definition, 'Is_above_threshold').expression as Json, '').map(
      (e) => e.source,
    );
    expect(condition).toEqual([
      "decimal(body('Read_CloudEvent')?['data']?['total'])",
      "decimal(parameters('approvalThreshold'))",
    ]);
  });

  it('takes the order id from the CloudEvent subject orders/{orderId}', () => {
    expect(actionOf(definition, 'Order_id').inputs).toBe(
      "@last(split(body('Read_CloudEvent')?['subject'], '/'))",
    );
    const schema = (actionOf(definition, 'Read_CloudEvent').inputs as { schema: JsonObject }).schema;
    const subject = ((schema.properties as JsonObject).subject as JsonObject).pattern as string;
    expect(new RegExp(subject).test('orders/order-1001')).toBe(true);
    expect(new RegExp(subject).test('orders/a/b')).toBe(false);
  });
});

describe('the approval call', () => {
  it('POSTs {apiBaseUrl}/api/orders/{orderId}/approval with the managed identity for the API audience', () => {
    expect(approvalCalls(definition).map((c) => c.name)).toEqual(['Record_the_decision']);
    expect(approvalCallProblems(definition)).toEqual([]);
  });

  it("sends a body the route's zod schema and the OpenAPI request schema both accept", () => {
    const body = exampleOf((actionOf(definition, 'Record_the_decision').inputs as JsonObject).body);
    expect(body).toEqual({ approved: true, comment: expect.any(String) });
    expect(approvalRoute.body!.safeParse(body).success).toBe(true);
    expect(openApiApprovalSchema()).toMatchObject({ additionalProperties: false, required: ['approved'] });
  });

  it('is refused when its body names an approver (the approver is the caller)', () => {
    const def = copy();
    ((actionOf(def, 'Record_the_decision').inputs as JsonObject).body as JsonObject).approver =
      "@{body('Send_approval_email')?['UserEmailAddress']}";
    const problems = approvalCallProblems(def);
    anyMatch(problems, /the route refuses the body/);
    anyMatch(problems, /the OpenAPI schema refuses the body/);
  });

  it('is refused when approved is sent as a string', () => {
    const def = copy();
    const body = (actionOf(def, 'Record_the_decision').inputs as JsonObject).body as JsonObject;
    body.approved = `@{${String(body.approved).slice(1)}}`;
    const problems = approvalCallProblems(def);
    anyMatch(problems, /the route refuses the body .*"approved":"example"/);
    anyMatch(problems, /the OpenAPI schema refuses the body/);
  });

  it('is refused when the type of a body value cannot be told from its expression', () => {
    const def = copy();
    ((actionOf(def, 'Record_the_decision').inputs as JsonObject).body as JsonObject).approved =
      "@body('Send_approval_email')?['SelectedOption']";
    anyMatch(approvalCallProblems(def), /cannot tell the type of/);
  });

  it('is reported missing, or authenticated otherwise, or sent with another method', () => {
    const missing = copy();
    (actionOf(missing, 'Record_the_decision').inputs as JsonObject).uri =
      "@{parameters('apiBaseUrl')}/api/orders/@{outputs('Order_id')}/approve";
    expect(approvalCallProblems(missing)).toEqual([`0 actions call POST ${routePath}, not one`]);
    const other = copy();
    const inputs = actionOf(other, 'Record_the_decision').inputs as JsonObject;
    inputs.method = 'PUT';
    inputs.authentication = { type: 'Raw', value: 'Bearer x' };
    const problems = approvalCallProblems(other);
    anyMatch(problems, /method PUT is not POST/);
    anyMatch(problems, /not authenticated by the managed identity/);
  });
});

describe('each structural check fails on a planted violation', () => {
  it('reports a definition without contentVersion or outputs, or with another $schema', () => {
    const def = copy();
    delete def.contentVersion;
    delete def.outputs;
    def.$schema = 'https://example.com/schema.json#';
    def.extra = {};
    const problems = checkShape(def);
    anyMatch(problems, /contentVersion is not a version/);
    anyMatch(problems, /outputs is missing/);
    anyMatch(problems, /\$schema is not/);
    anyMatch(problems, /unknown property extra/);
  });

  it('reports an action without runAfter and a parameter without a type', () => {
    const def = copy();
    delete actionOf(def, 'Order_id').runAfter;
    delete ((def.parameters as JsonObject).apiBaseUrl as JsonObject).type;
    const problems = checkShape(def);
    anyMatch(problems, /Order_id: runAfter is missing/);
    anyMatch(problems, /parameter apiBaseUrl has no type/);
  });

  it('reports an unknown action type, nested or not, and an unknown trigger type', () => {
    const def = copy();
    actionOf(def, 'Order_id').type = 'Composer';
    actionOf(def, 'Notify_support').type = 'Office365Mail';
    (Object.values(def.triggers as JsonObject)[0] as JsonObject).type = 'EventGrid';
    expect(checkTypes(def)).toEqual([
      'triggers.Event_Grid_delivery: unknown trigger type EventGrid',
      'actions.Is_webhook_handshake.else.actions.Is_a_CloudEvent.actions.Order_id: unknown action type Composer',
      'actions.Is_webhook_handshake.else.actions.Is_a_CloudEvent.actions.Route_by_event_type.cases.Order_rejected.actions.Notify_support: unknown action type Office365Mail',
    ]);
  });

  it('reports a runAfter naming a missing action, or an action of another scope', () => {
    const def = copy();
    actionOf(def, 'Event_kind').runAfter = { Order_ID: ['Succeeded'] };
    actionOf(def, 'Record_the_decision').runAfter = { Read_CloudEvent: ['Succeeded'] };
    const problems = checkRunAfter(def);
    anyMatch(problems, /Event_kind: runs after Order_ID, which is not an action of the same scope/);
    anyMatch(
      problems,
      /Record_the_decision: runs after Read_CloudEvent, which is not an action of the same scope/,
    );
  });

  it('reports a runAfter status that is not Succeeded, Failed, Skipped or TimedOut, or no status', () => {
    const def = copy();
    actionOf(def, 'Event_kind').runAfter = { Order_id: ['Succeded'] };
    actionOf(def, 'Record_the_decision').runAfter = { Send_approval_email: [] };
    const problems = checkRunAfter(def);
    anyMatch(problems, /runAfter Order_id has the unknown status Succeded/);
    anyMatch(problems, /runAfter Send_approval_email names no status/);
  });

  it('reports actions that run after each other in a cycle', () => {
    const def = copy();
    actionOf(def, 'Order_id').runAfter = { Event_kind: ['Succeeded'] };
    anyMatch(checkRunAfter(def), /Order_id: runAfter goes round in a cycle/);
  });

  it('reports a Response inside a loop, a nested InitializeVariable, and nesting deeper than Azure accepts', () => {
    const def = copy();
    const handshake = actionOf(def, 'Is_webhook_handshake');
    handshake.actions = {
      Each_header: {
        type: 'Foreach',
        foreach: "@triggerOutputs()?['headers']",
        actions: handshake.actions as JsonObject,
        runAfter: {},
      },
      Declare_count: { type: 'InitializeVariable', inputs: { variables: [] }, runAfter: {} },
    };
    let deep: JsonObject = { Innermost: { type: 'Compose', inputs: 1, runAfter: {} } };
    for (let level = 0; level < 9; level++)
      deep = { [`Scope_${level}`]: { type: 'Scope', actions: deep, runAfter: {} } };
    (def.actions as JsonObject).Deep = { type: 'Scope', actions: deep, runAfter: {} };
    const problems = checkPlacement(def);
    anyMatch(problems, /Answer_webhook_handshake: a Response cannot be inside the loop Each_header/);
    anyMatch(problems, /Declare_count: InitializeVariable must be at the top level/);
    anyMatch(problems, /Innermost: nested at level 10, deeper than 8/);
  });

  it('reports an expression naming an action that does not exist', () => {
    const def = copy();
    const inputs = actionOf(def, 'Record_the_decision').inputs as JsonObject;
    inputs.uri = String(inputs.uri).replace("outputs('Order_id')", "outputs('Order_Id')");
    expect(checkExpressions(def)).toEqual([
      "actions.Is_webhook_handshake.else.actions.Is_a_CloudEvent.actions.Route_by_event_type.cases.Order_submitted.actions.Is_above_threshold.actions.Record_the_decision.inputs.uri: outputs('Order_Id') names no action",
    ]);
  });

  it('reports an expression reading an action that has not run before it', () => {
    const def = copy();
    actionOf(def, 'Order_id').inputs = "@outputs('Event_kind')";
    actionOf(def, 'Nothing_to_approve').inputs = {
      statusCode: "@body('Send_approval_email')?['SelectedOption']",
    };
    const problems = checkExpressions(def);
    anyMatch(
      problems,
      /Order_id\.inputs: outputs\('Event_kind'\) names an action that has not run before it/,
    );
    anyMatch(
      problems,
      /Nothing_to_approve\.inputs\.statusCode: body\('Send_approval_email'\) names an action that/,
    );
  });

  it('reports a parameter that is not declared, and a variable nothing initializes', () => {
    const def = copy();
    delete (def.parameters as JsonObject).apiAudience;
    actionOf(def, 'Order_id').inputs = "@variables('orderId')";
    const problems = checkExpressions(def);
    anyMatch(
      problems,
      /Record_the_decision\.inputs\.authentication\.audience: parameters\('apiAudience'\) names no/,
    );
    anyMatch(problems, /Order_id\.inputs: variables\('orderId'\) names no initialized variable/);
  });

  it('reports items() outside a Foreach, a function WDL does not have, and an expression that does not parse', () => {
    const def = copy();
    actionOf(def, 'Order_id').inputs = "@items('Each_line')";
    actionOf(def, 'Event_kind').inputs = "@flaot(body('Read_CloudEvent')?['data']?['total'])";
    actionOf(def, 'Nothing_to_approve').inputs = { statusCode: '@{if(equals(1, 1), 200}' };
    const problems = checkExpressions(def);
    anyMatch(problems, /Order_id\.inputs: items\('Each_line'\) names no Foreach that contains it/);
    anyMatch(problems, /Event_kind\.inputs: flaot\(\) is not a Workflow Definition Language function/);
    anyMatch(problems, /Nothing_to_approve\.inputs\.statusCode: expected , or \)/);
  });

  it('reads literal @@ and e-mail addresses as text, not as expressions', () => {
    expect(splitString('@@{not an expression}')).toEqual({ kind: 'literal', text: '@{not an expression}' });
    expect(splitString('ops@contoso.com')).toEqual({ kind: 'literal', text: 'ops@contoso.com' });
    expect(expressionsOf("Order @{outputs('X')}: it''s @{'a}b'}", 'p').map((e) => e.source)).toEqual([
      "outputs('X')",
      "'a}b'",
    ]);
  });
});
