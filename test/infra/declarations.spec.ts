import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appRoleId,
  containersDeclaration,
  generatedFiles,
  staleFiles,
  subscriptionsDeclaration,
} from '../../src/cli/infraGenerate';
import { cosmosNames } from '../../src/adapters/cosmos/containers';
import { appRoles } from '../../src/shared/appRoles';

describe('the declarations Bicep loads are generated from the code', () => {
  it('every committed file under infra/generated equals what npm run infra:generate writes', () => {
    expect(staleFiles(process.cwd()), 'run npm run infra:generate and commit the result').toEqual([]);
  });

  it('notices a committed file that drifted from the code, and one that is missing', () => {
    const root = mkdtempSync(join(tmpdir(), 'infra-generated-'));
    try {
      const paths = [...generatedFiles().keys()];
      mkdirSync(join(root, 'infra/generated'), { recursive: true });
      for (const [path, content] of generatedFiles()) writeFileSync(join(root, path), content);
      expect(staleFiles(root)).toEqual([]);
      const events = readFileSync(join(root, paths[0]), 'utf8');
      writeFileSync(join(root, paths[0]), events.replace('/orderId', '/customerId'));
      rmSync(join(root, paths[1]));
      expect(staleFiles(root)).toEqual([paths[0], paths[1]]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('declares the events container partitioned by /orderId and the leases by /id', () => {
    const byId = new Map(containersDeclaration().containers.map((c) => [c.id, c]));
    expect(byId.get(cosmosNames.events.id)?.partitionKey.paths).toEqual(['/orderId']);
    expect(byId.get(cosmosNames.leases.id)?.partitionKey.paths).toEqual(['/id']);
  });

  it('names every subscribed CloudEvent type with the prefix and the current schema version', () => {
    for (const s of subscriptionsDeclaration().subscriptions) {
      for (const t of s.includedEventTypes) expect(t).toMatch(/^com\.contoso\.orders\.[A-Za-z]+\.v\d+$/);
    }
  });

  it('gives each app role a stable RFC 9562 GUID of its own', () => {
    const ids = appRoles.map(appRoleId);
    expect(new Set(ids).size).toBe(appRoles.length);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(appRoleId('orders.read')).toBe(appRoleId('orders.read'));
  });
});
