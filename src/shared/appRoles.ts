/** The application's roles (Microsoft Entra ID app roles on Azure, `roles` of a development token locally). */
export const appRoles = ['orders.read', 'orders.approve', 'orders.admin', 'orders.import'] as const;
export type AppRole = (typeof appRoles)[number];
export const isAppRole = (r: string): r is AppRole => (appRoles as readonly string[]).includes(r);

/**
 * What each role is for, as the Entra ID app registration shows it (infra/hooks create the app roles from the
 * file `npm run infra:generate` writes from this: infra/generated/app-roles.json). Users and applications (the
 * order-approval Logic App's managed identity holds `orders.approve`) can be assigned each.
 */
export const appRoleDescriptions: Record<AppRole, { displayName: string; description: string }> = {
  'orders.read': {
    displayName: 'Order reader',
    description: 'Reads and lists every order and its audit trail (sales, support)',
  },
  'orders.approve': {
    displayName: 'Order approver',
    description: 'Approves or rejects orders above the approval threshold, never their own',
  },
  'orders.admin': {
    displayName: 'Order administrator',
    description: 'Manages acceptance orchestrations and replays',
  },
  'orders.import': {
    displayName: 'Order history importer',
    description:
      'Loads orders with their past business times through POST /api/import/orders (another system, an application)',
  },
};
