import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * A structural check of a Logic Apps workflow definition (Workflow Definition Language, schema 2016-06-01):
 * what Azure would refuse on deploy or fail on at run time, found without an Azure account. Each check
 * returns the problems it found as sentences naming where; an empty list means the definition passes.
 */

export const workflowPath = resolve(__dirname, '../../infra/logicapp/order-approval.workflow.json');
export const logicAppModulePath = resolve(__dirname, '../../infra/modules/logicApp.bicep');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const loadWorkflow = (): JsonObject => JSON.parse(readFileSync(workflowPath, 'utf8')) as JsonObject;

export const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const keysOf = (v: Json | undefined): string[] => (isObject(v) ? Object.keys(v) : []);

/** The words of a list written as text. */
const words = (text: string): string[] => text.trim().split(/\s+/);

export const workflowSchema =
  'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#';

/** Trigger and action types this project allows (built-in and managed-connector kinds of a Consumption app). */
export const knownTriggerTypes = [
  'Request',
  'Recurrence',
  'Http',
  'HttpWebhook',
  'ApiConnection',
  'ApiConnectionWebhook',
];
export const knownActionTypes = words(`
  Response If Switch Scope Foreach Until Compose Http HttpWebhook ApiConnection ApiConnectionWebhook
  InitializeVariable SetVariable IncrementVariable DecrementVariable AppendToArrayVariable
  AppendToStringVariable Terminate ParseJson Query Select Table Join Wait Workflow
`);
/** The statuses `runAfter` may name, spelt as the designer writes them. */
export const runAfterStatuses = ['Succeeded', 'Failed', 'Skipped', 'TimedOut'];

// ---------------------------------------------------------------------------------------------------------
// The actions of a definition, with the scope each belongs to.

export interface ActionSite {
  name: string;
  action: JsonObject;
  /** Where it is, e.g. `actions.Is_webhook_handshake.else.actions.Read_CloudEvent`. */
  path: string;
  /** Its siblings: the actions of the same scope (including itself). */
  siblings: JsonObject;
  /** The actions that contain it, outermost first. */
  containers: ActionSite[];
}

/** The scopes (name → action map) an action contains: If's actions and else, Switch's cases and default, ... */
export function childScopes(action: JsonObject, path: string): { path: string; actions: JsonObject }[] {
  const scopes: { path: string; actions: JsonObject }[] = [];
  if (isObject(action.actions)) scopes.push({ path: `${path}.actions`, actions: action.actions });
  if (isObject(action.else) && isObject(action.else.actions))
    scopes.push({ path: `${path}.else.actions`, actions: action.else.actions });
  if (isObject(action.cases))
    for (const [name, c] of Object.entries(action.cases))
      if (isObject(c) && isObject(c.actions))
        scopes.push({ path: `${path}.cases.${name}.actions`, actions: c.actions });
  if (isObject(action.default) && isObject(action.default.actions))
    scopes.push({ path: `${path}.default.actions`, actions: action.default.actions });
  return scopes;
}

/** Every action of the definition, depth first. */
export function actionSites(definition: JsonObject): ActionSite[] {
  const sites: ActionSite[] = [];
  const walk = (actions: JsonObject, path: string, containers: ActionSite[]) => {
    for (const [name, action] of Object.entries(actions)) {
      if (!isObject(action)) continue;
      const site: ActionSite = { name, action, path: `${path}.${name}`, siblings: actions, containers };
      sites.push(site);
      for (const scope of childScopes(action, site.path))
        walk(scope.actions, scope.path, [...containers, site]);
    }
  };
  if (isObject(definition.actions)) walk(definition.actions, 'actions', []);
  return sites;
}

export const findAction = (definition: JsonObject, name: string): ActionSite | undefined =>
  actionSites(definition).find((s) => s.name === name);

// ---------------------------------------------------------------------------------------------------------
// Checks.

/** The Workflow Definition Language shape: $schema, contentVersion, parameters, triggers, actions, outputs. */
export function checkShape(definition: JsonObject): string[] {
  const problems: string[] = [];
  const allowed = [
    '$schema',
    'contentVersion',
    'parameters',
    'triggers',
    'actions',
    'outputs',
    'staticResults',
  ];
  for (const key of Object.keys(definition))
    if (!allowed.includes(key)) problems.push(`the definition has an unknown property ${key}`);
  if (definition.$schema !== workflowSchema) problems.push(`$schema is not ${workflowSchema}`);
  if (typeof definition.contentVersion !== 'string' || !/^\d+(\.\d+){3}$/.test(definition.contentVersion))
    problems.push('contentVersion is not a version such as 1.0.0.0');
  for (const key of ['parameters', 'triggers', 'actions', 'outputs'])
    if (!isObject(definition[key])) problems.push(`${key} is missing or not an object`);
  if (keysOf(definition.triggers).length !== 1)
    problems.push(
      `a Consumption workflow has exactly one trigger, not ${keysOf(definition.triggers).length}`,
    );
  const parameterTypes = [
    'String',
    'SecureString',
    'Int',
    'Float',
    'Bool',
    'Array',
    'Object',
    'SecureObject',
  ];
  for (const [name, p] of Object.entries(isObject(definition.parameters) ? definition.parameters : {})) {
    if (!isObject(p) || typeof p.type !== 'string' || !parameterTypes.includes(p.type))
      problems.push(`parameter ${name} has no type among ${parameterTypes.join(', ')}`);
  }
  for (const site of actionSites(definition)) {
    if (!/^[^/\\#%<>*&?:]{1,80}$/.test(site.name))
      problems.push(`${site.path}: the name is not a valid action name`);
    if (!isObject(site.action.runAfter)) problems.push(`${site.path}: runAfter is missing (use {} for none)`);
  }
  return problems;
}

/** Every trigger and action type is a known one. */
export function checkTypes(definition: JsonObject): string[] {
  const problems: string[] = [];
  for (const [name, trigger] of Object.entries(isObject(definition.triggers) ? definition.triggers : {})) {
    const type = isObject(trigger) ? trigger.type : undefined;
    if (typeof type !== 'string' || !knownTriggerTypes.includes(type))
      problems.push(`triggers.${name}: unknown trigger type ${String(type)}`);
  }
  for (const site of actionSites(definition)) {
    const type = site.action.type;
    if (typeof type !== 'string' || !knownActionTypes.includes(type))
      problems.push(`${site.path}: unknown action type ${String(type)}`);
  }
  return problems;
}

/** Every runAfter key names a sibling (same scope) with known statuses, and runAfter has no cycle. */
export function checkRunAfter(definition: JsonObject): string[] {
  const problems: string[] = [];
  for (const site of actionSites(definition)) {
    const runAfter = isObject(site.action.runAfter) ? site.action.runAfter : {};
    for (const [before, statuses] of Object.entries(runAfter)) {
      if (before === site.name) problems.push(`${site.path}: runs after itself`);
      else if (!(before in site.siblings))
        problems.push(`${site.path}: runs after ${before}, which is not an action of the same scope`);
      if (!Array.isArray(statuses) || statuses.length === 0)
        problems.push(`${site.path}: runAfter ${before} names no status`);
      else
        for (const status of statuses)
          if (typeof status !== 'string' || !runAfterStatuses.includes(status))
            problems.push(`${site.path}: runAfter ${before} has the unknown status ${String(status)}`);
    }
  }
  for (const site of actionSites(definition)) {
    if (predecessors(site).has(site.name)) problems.push(`${site.path}: runAfter goes round in a cycle`);
  }
  return problems;
}

/** The names of the siblings an action runs after, directly or through others. */
export function predecessors(site: Pick<ActionSite, 'name' | 'siblings'>): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const action = site.siblings[name];
    if (!isObject(action) || !isObject(action.runAfter)) return;
    for (const before of Object.keys(action.runAfter)) {
      if (seen.has(before)) continue;
      seen.add(before);
      visit(before);
    }
  };
  visit(site.name);
  return seen;
}

/**
 * The actions whose results an action may read when it runs: those that ran before it in its scope, and,
 * for each scope that contains it, those that ran before that container.
 */
export function actionsBefore(site: ActionSite): Set<string> {
  const names = new Set(predecessors(site));
  for (const container of site.containers) for (const n of predecessors(container)) names.add(n);
  return names;
}

// ---------------------------------------------------------------------------------------------------------
// Expressions.

/** An expression's syntax tree (WDL: literals, function calls, property access). */
export type Expr =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'literal'; value: boolean | null }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'member'; target: Expr; key: Expr; optional: boolean };

/** Parses one expression (the text after `@`, or inside `@{...}`). @throws Error on a syntax error */
export function parseExpression(text: string): Expr {
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at ${i} in ${text}`);
  };
  const primary = (): Expr => {
    space();
    const c = text[i];
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      return { kind: 'string', value };
    }
    const number = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i));
    if (number) {
      i += number[0].length;
      return { kind: 'number', value: Number(number[0]) };
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!ident) return fail('expected a value');
    i += ident[0].length;
    space();
    if (text[i] !== '(') {
      if (ident[0] === 'true' || ident[0] === 'false') return { kind: 'literal', value: ident[0] === 'true' };
      if (ident[0] === 'null') return { kind: 'literal', value: null };
      return fail(`expected ( after ${ident[0]}`);
    }
    i++;
    const args: Expr[] = [];
    space();
    if (text[i] === ')') i++;
    else
      for (;;) {
        args.push(expression());
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ')') {
          i++;
          break;
        }
        fail('expected , or )');
      }
    return { kind: 'call', name: ident[0], args };
  };
  const expression = (): Expr => {
    let e = primary();
    for (;;) {
      space();
      const optional = text[i] === '?';
      if (optional) i++;
      if (text[i] === '[') {
        i++;
        const key = expression();
        space();
        if (text[i] !== ']') fail('expected ]');
        i++;
        e = { kind: 'member', target: e, key, optional };
      } else if (text[i] === '.') {
        i++;
        const ident = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i));
        if (!ident) fail('expected a property name after .');
        i += ident![0].length;
        e = { kind: 'member', target: e, key: { kind: 'string', value: ident![0] }, optional };
      } else if (optional) {
        fail('expected [ or . after ?');
      } else return e;
    }
  };
  const e = expression();
  space();
  if (i !== text.length) fail('unexpected text');
  return e;
}

/** A string value of a definition seen as WDL sees it: a literal, one expression, or a template. */
export type StringValue =
  | { kind: 'literal'; text: string }
  | { kind: 'expression'; source: string }
  | { kind: 'template'; parts: ({ text: string } | { source: string })[] };

/**
 * Splits a definition string: `@expr` is one expression (of any type), `@@` starts a literal `@`, and
 * `@{expr}` inside text is interpolated (the result is a string). @throws Error on an unclosed `@{`
 */
export function splitString(s: string): StringValue {
  if (s.startsWith('@@')) return { kind: 'literal', text: s.slice(1) };
  if (s.startsWith('@') && !s.startsWith('@{')) return { kind: 'expression', source: s.slice(1) };
  if (!s.includes('@{')) return { kind: 'literal', text: s };
  const parts: ({ text: string } | { source: string })[] = [];
  let i = 0;
  let text = '';
  while (i < s.length) {
    if (s.startsWith('@{', i)) {
      if (text) parts.push({ text });
      text = '';
      let j = i + 2;
      let quoted = false;
      let depth = 0;
      for (; j < s.length; j++) {
        if (s[j] === "'") quoted = !quoted;
        else if (!quoted && s[j] === '{') depth++;
        else if (!quoted && s[j] === '}') {
          if (depth === 0) break;
          depth--;
        }
      }
      if (j >= s.length) throw new Error(`unclosed @{ in ${s}`);
      parts.push({ source: s.slice(i + 2, j) });
      i = j + 1;
    } else text += s[i++];
  }
  if (text) parts.push({ text });
  return { kind: 'template', parts };
}

/** Every string in a JSON value, with its path. */
export function stringsOf(value: Json, path: string): { path: string; value: string }[] {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, k) => stringsOf(v, `${path}[${k}]`));
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => stringsOf(v, `${path}.${k}`));
  return [];
}

/** The expressions (parsed) of a JSON value, with the path of the string each came from. */
export function expressionsOf(
  value: Json,
  path: string,
): { path: string; source: string; expr?: Expr; error?: string }[] {
  const found: { path: string; source: string; expr?: Expr; error?: string }[] = [];
  for (const s of stringsOf(value, path)) {
    let split: StringValue;
    try {
      split = splitString(s.value);
    } catch (err) {
      found.push({ path: s.path, source: s.value, error: (err as Error).message });
      continue;
    }
    const sources =
      split.kind === 'expression'
        ? [split.source]
        : split.kind === 'template'
          ? split.parts.flatMap((p) => ('source' in p ? [p.source] : []))
          : [];
    for (const source of sources) {
      try {
        found.push({ path: s.path, source, expr: parseExpression(source) });
      } catch (err) {
        found.push({ path: s.path, source, error: (err as Error).message });
      }
    }
  }
  return found;
}

export function callsOf(expr: Expr): { name: string; args: Expr[] }[] {
  switch (expr.kind) {
    case 'call':
      return [{ name: expr.name, args: expr.args }, ...expr.args.flatMap(callsOf)];
    case 'member':
      return [...callsOf(expr.target), ...callsOf(expr.key)];
    default:
      return [];
  }
}

/** Workflow Definition Language functions (https://learn.microsoft.com/azure/logic-apps/workflow-definition-language-functions-reference). */
export const knownFunctions = new Set(
  // By category: string, collection, logical, conversion, math, date and time, workflow, URI, manipulation.
  words(`
    chunk concat endsWith formatNumber guid indexOf isFloat isInt lastIndexOf length nthIndexOf
    replace slice split startsWith substring toLower toUpper trim
    contains empty first intersection item join last reverse skip sort take union
    and equals greater greaterOrEquals if less lessOrEquals not or
    array base64 base64ToBinary base64ToString binary bool coalesce createArray dataUri
    dataUriToBinary dataUriToString decimal decodeBase64 decodeDataUri decodeUriComponent
    encodeUriComponent float int json string uriComponent uriComponentToBinary uriComponentToString
    xml
    add div max min mod mul rand range sub
    addDays addHours addMinutes addSeconds addToTime convertFromUtc convertTimeZone convertToUtc
    dateDifference dayOfMonth dayOfWeek dayOfYear formatDateTime getFutureTime getPastTime
    parseDateTime startOfDay startOfHour startOfMonth subtractFromTime ticks utcNow
    action actions body formDataMultiValues formDataValue items iterationIndexes listCallbackUrl
    multipartBody outputs parameters result trigger triggerBody triggerFormDataMultiValues
    triggerFormDataValue triggerMultipartBody triggerOutputs variables workflow
    uriHost uriPath uriPathAndQuery uriPort uriQuery uriScheme
    addProperty removeProperty setProperty xpath
  `),
);

/** Functions whose first argument names an action (one that ran before the caller, or a container for `items`). */
const actionFunctions = ['body', 'outputs', 'actions', 'result', 'iterationIndexes'];

/**
 * Every expression parses; calls only known functions; `body('X')`, `outputs('X')`, `actions('X')`,
 * `result('X')` name an action that has run before (in the caller's scope or before one of its containers);
 * `items('X')` names a Foreach that contains the caller; `parameters('X')` a declared parameter;
 * `variables('X')` a variable some InitializeVariable declares. triggerBody() and triggerOutputs() are allowed.
 */
export function checkExpressions(definition: JsonObject): string[] {
  const problems: string[] = [];
  const parameters = keysOf(definition.parameters);
  const sites = actionSites(definition);
  const allNames = new Set(sites.map((s) => s.name));
  const variables = new Set(
    sites.flatMap((s) => {
      const vars =
        isObject(s.action.inputs) && Array.isArray(s.action.inputs.variables)
          ? s.action.inputs.variables
          : [];
      return s.action.type === 'InitializeVariable'
        ? vars.flatMap((v) => (isObject(v) && typeof v.name === 'string' ? [v.name] : []))
        : [];
    }),
  );

  const check = (where: string, value: Json, before: Set<string>, foreachs: Set<string>) => {
    for (const found of expressionsOf(value, where)) {
      if (!found.expr) {
        problems.push(`${found.path}: ${found.error ?? 'cannot read the expression'}`);
        continue;
      }
      for (const call of callsOf(found.expr)) {
        if (!knownFunctions.has(call.name)) {
          problems.push(`${found.path}: ${call.name}() is not a Workflow Definition Language function`);
          continue;
        }
        const first = call.args[0];
        const named = first?.kind === 'string' ? first.value : undefined;
        if (actionFunctions.includes(call.name)) {
          if (named === undefined)
            problems.push(`${found.path}: ${call.name}() must name an action literally`);
          else if (!allNames.has(named))
            problems.push(`${found.path}: ${call.name}('${named}') names no action`);
          else if (!before.has(named))
            problems.push(
              `${found.path}: ${call.name}('${named}') names an action that has not run before it`,
            );
        } else if (call.name === 'items') {
          if (named === undefined || !foreachs.has(named))
            problems.push(`${found.path}: items('${String(named)}') names no Foreach that contains it`);
        } else if (call.name === 'parameters') {
          if (named === undefined || !parameters.includes(named))
            problems.push(`${found.path}: parameters('${String(named)}') names no declared parameter`);
        } else if (call.name === 'variables') {
          if (named === undefined || !variables.has(named))
            problems.push(`${found.path}: variables('${String(named)}') names no initialized variable`);
        }
      }
    }
  };

  for (const [name, trigger] of Object.entries(isObject(definition.triggers) ? definition.triggers : {}))
    check(`triggers.${name}`, trigger, new Set(), new Set());
  for (const site of sites) {
    const before = actionsBefore(site);
    const foreachs = new Set(site.containers.filter((c) => c.action.type === 'Foreach').map((c) => c.name));
    // The action's own properties; the actions it contains are checked as sites of their own.
    const own: JsonObject = {};
    for (const [key, v] of Object.entries(site.action)) {
      if (key === 'actions' || key === 'else' || key === 'default') continue;
      if (key === 'cases' && isObject(v)) {
        own.cases = Object.fromEntries(
          Object.entries(v).map(([c, body]) => [c, isObject(body) ? { case: body.case ?? null } : body]),
        );
        continue;
      }
      own[key] = v;
    }
    // A Foreach's own `foreach` and an If's `expression` run before what it contains: its own name is not
    // "before" it, but the names that ran before it are.
    check(site.path, own, before, foreachs);
  }
  check('outputs', definition.outputs ?? {}, allNames, new Set());
  return problems;
}

/** The deepest nesting Azure accepts: an action inside 8 containers (top-level actions are at level 0). */
export const maxNestingLevel = 8;

/**
 * Where an action may sit, as Azure checks on save: a Response only with a Request trigger and never inside a
 * Foreach or Until (nor a Terminate), InitializeVariable only at the top level, nesting at most 8 deep.
 */
export function checkPlacement(definition: JsonObject): string[] {
  const problems: string[] = [];
  const triggerTypes = Object.values(isObject(definition.triggers) ? definition.triggers : {}).map((t) =>
    isObject(t) ? t.type : undefined,
  );
  for (const site of actionSites(definition)) {
    const loop = site.containers.find((c) => c.action.type === 'Foreach' || c.action.type === 'Until');
    if ((site.action.type === 'Response' || site.action.type === 'Terminate') && loop)
      problems.push(`${site.path}: a ${String(site.action.type)} cannot be inside the loop ${loop.name}`);
    if (site.action.type === 'Response' && !triggerTypes.includes('Request'))
      problems.push(`${site.path}: a Response needs a Request trigger`);
    if (site.action.type === 'InitializeVariable' && site.containers.length > 0)
      problems.push(`${site.path}: InitializeVariable must be at the top level`);
    if (site.containers.length > maxNestingLevel)
      problems.push(
        `${site.path}: nested at level ${site.containers.length}, deeper than ${maxNestingLevel}`,
      );
  }
  return problems;
}

/** All the structural checks. */
export const checkWorkflow = (definition: JsonObject): string[] => [
  ...checkShape(definition),
  ...checkTypes(definition),
  ...checkRunAfter(definition),
  ...checkPlacement(definition),
  ...checkExpressions(definition),
];

// ---------------------------------------------------------------------------------------------------------
// Example values: an action's inputs as they would be at run time, each expression replaced by a value of
// the type it evaluates to.

const booleanFunctions = new Set(
  words(`
    and or not equals greater greaterOrEquals less lessOrEquals contains empty startsWith endsWith
    bool isInt isFloat
  `),
);
const numberFunctions = new Set(
  words(`
    int float decimal add sub mul div mod max min rand length indexOf lastIndexOf nthIndexOf ticks
    dayOfMonth dayOfWeek dayOfYear
  `),
);
const stringFunctions = new Set(
  words(`
    concat string substring slice replace toLower toUpper trim formatNumber guid uriComponent
    encodeUriComponent decodeUriComponent uriComponentToString base64 base64ToString utcNow
    formatDateTime addDays addHours addMinutes addSeconds addToTime listCallbackUrl uriHost uriPath
    uriPathAndQuery uriQuery uriScheme dataUri dataUriToString join
  `),
);

/** The type an expression evaluates to, from its outermost function; undefined when it cannot be told. */
export function typeOf(expr: Expr): 'boolean' | 'number' | 'string' | undefined {
  switch (expr.kind) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'literal':
      return typeof expr.value === 'boolean' ? 'boolean' : undefined;
    case 'member':
      return undefined;
    case 'call': {
      if (booleanFunctions.has(expr.name)) return 'boolean';
      if (numberFunctions.has(expr.name)) return 'number';
      if (stringFunctions.has(expr.name)) return 'string';
      if (expr.name === 'if' && expr.args.length === 3) {
        const [a, b] = [typeOf(expr.args[1]), typeOf(expr.args[2])];
        return a === b ? a : undefined;
      }
      return undefined;
    }
  }
}

const examples = { boolean: true, number: 1, string: 'example' } as const;

/**
 * The JSON value with every expression replaced by an example of its type: a template (`a @{x} b`) is a
 * string; a whole-string expression whose type cannot be told from its outermost function is an error, so
 * a value sent to an API always has a type the check can see.
 * @throws Error naming the path of an expression of unknown type
 */
export function exampleOf(value: Json, path = ''): Json {
  if (typeof value === 'string') {
    const split = splitString(value);
    if (split.kind === 'literal') return split.text;
    if (split.kind === 'template')
      return split.parts.map((p) => ('text' in p ? p.text : examples.string)).join('');
    const type = typeOf(parseExpression(split.source));
    if (type === undefined) throw new Error(`${path}: cannot tell the type of @${split.source}`);
    return examples[type];
  }
  if (Array.isArray(value)) return value.map((v, k) => exampleOf(v, `${path}[${k}]`));
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exampleOf(v, `${path}.${k}`)]));
  return value;
}
