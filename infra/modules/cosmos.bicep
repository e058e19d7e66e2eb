// Cosmos DB for NoSQL: the event store, the read model and every other piece of the app's state
// (docs/adr/0010). Local (key) auth is off, so only Entra ID identities with a data-plane role reach the data;
// the database and its containers are created here because those identities cannot create them.
import { cosmosDataPrincipalType, roleIds, tagsType } from 'types.bicep'

@description('Name of the account (cosmos-<token>).')
param name string

@description('Region of the account (its one write region).')
param location string

@description('Tags of the account.')
param tags tagsType

@description('Name of the database (the COSMOS_DATABASE app setting).')
param databaseName string

@description('Serverless (pay per request unit, the default) or Provisioned (autoscale throughput shared by the database).')
@allowed([
  'Serverless'
  'Provisioned'
])
param capacityMode string

@description('Provisioned only: the autoscale maximum of the database, in RU/s (1000 to 1000000, a multiple of 1000).')
@minValue(1000)
@maxValue(1000000)
param autoscaleMaxThroughput int

@description('Identities and people given Cosmos DB Built-in Data Contributor on the account.')
param dataContributors cosmosDataPrincipalType[]

@description('Every container the code declares (cosmosContainerDefinitions in src/adapters/cosmos/containers.ts, written by npm run infra:generate): id, partition key, indexing policy and time to live, used unchanged.')
var declaration = loadJsonContent('../generated/cosmos-containers.json')

resource account 'Microsoft.DocumentDB/databaseAccounts@2026-03-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: capacityMode == 'Serverless'
      ? [
          {
            name: 'EnableServerless'
          }
        ]
      : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    enableAutomaticFailover: false
    enableFreeTier: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2026-03-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: capacityMode == 'Provisioned'
      ? {
          autoscaleSettings: {
            maxThroughput: autoscaleMaxThroughput
          }
        }
      : {}
  }
}

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2026-03-15' = [
  for container in declaration.containers: {
    parent: database
    name: container.id
    properties: {
      resource: container
    }
  }
]

// Data-plane role assignments (Cosmos DB RBAC, not Azure RBAC): the built-in Data Contributor reads and writes
// items, and nothing more (no account, database or container management).
resource dataContributorAssignments 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2026-03-15' = [
  for principal in dataContributors: {
    parent: account
    name: guid(account.id, principal.principalName, roleIds.cosmosDataContributor)
    properties: {
      roleDefinitionId: '${account.id}/sqlRoleDefinitions/${roleIds.cosmosDataContributor}'
      principalId: principal.principalId
      scope: account.id
    }
  }
]

@description('Resource id of the account.')
output id string = account.id

@description('Name of the account.')
output name string = account.name

@description('Document endpoint of the account (COSMOS__accountEndpoint).')
output endpoint string = account.properties.documentEndpoint

@description('Name of the database.')
output databaseName string = database.name
