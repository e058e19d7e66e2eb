// Types shared by the modules (imported with `import { ... } from 'types.bicep'`).

@export()
@description('Tags put on a resource: name to value.')
type tagsType = {
  @description('A tag: name to value.')
  *: string
}

@export()
@description('A built-in Azure role granted to a principal at the scope of the module that takes it.')
type roleGrantType = {
  @description('Object (principal) id of the identity or person granted the role.')
  principalId: string

  @description('A name that is known before deployment and stable for the principal (its resource name), for the assignment\'s deterministic name.')
  principalName: string

  @description('ServicePrincipal for a managed identity, User for a person.')
  principalType: 'ServicePrincipal' | 'User'

  @description('GUID of the built-in role definition.')
  roleDefinitionId: string

  @description('Why the principal has the role, shown on the assignment.')
  description: string
}

@export()
@description('A built-in Azure role granted on one blob container of a storage account.')
type containerRoleGrantType = {
  @description('The blob container (one of the account\'s containerNames) the role is scoped to.')
  containerName: string

  @description('Object (principal) id of the identity granted the role.')
  principalId: string

  @description('A name that is known before deployment and stable for the principal (its resource name), for the assignment\'s deterministic name.')
  principalName: string

  @description('GUID of the built-in role definition.')
  roleDefinitionId: string

  @description('Why the principal has the role, shown on the assignment.')
  description: string
}

@export()
@description('A principal granted a Cosmos DB data-plane role.')
type cosmosDataPrincipalType = {
  @description('Object (principal) id of the identity or person.')
  principalId: string

  @description('A name that is known before deployment and stable for the principal, for the assignment\'s deterministic name.')
  principalName: string
}

@export()
@description('Built-in role definitions the deployment grants, by GUID (learn.microsoft.com/azure/role-based-access-control/built-in-roles). Nothing broader: no Owner, Contributor or User Access Administrator.')
var roleIds = {
  // Storage Blob Data Owner: the Functions host manages its own blobs (keys, leases, deployment package).
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Blob Data Contributor: read, write and delete blobs.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Storage Blob Data Reader: read blobs.
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  // Storage Queue Data Contributor: Durable Functions' control and work-item queues.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Table Data Contributor: Durable Functions' history and instances tables.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // EventGrid Data Sender: publish events to a topic.
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  // Monitoring Metrics Publisher: send telemetry to Application Insights with an Entra ID token.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Cosmos DB Built-in Data Contributor (data plane, not an Azure RBAC role): read and write items.
  cosmosDataContributor: '00000000-0000-0000-0000-000000000002'
}
