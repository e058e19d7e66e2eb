// Azure Machine Learning reads the event lake: a workspace (system-assigned identity) with the dependencies it
// needs of its own (a storage account without shared keys, a Key Vault on RBAC holding no secret, an
// Application Insights component with local auth off) and an identity-based datastore on the lake's `events`
// file system: no account key or SAS is stored; jobs and the studio read with the workspace's or the user's
// identity, and the workspace's identity has Storage Blob Data Reader on the lake.
import { roleIds, tagsType } from 'types.bicep'

@description('Name of the workspace (mlw-<token>).')
param name string

@description('Region of the workspace and its dependencies.')
param location string

@description('Tags of every resource of the module.')
param tags tagsType

@description('Name of the workspace\'s own storage account (st<token> style, 3-24 lowercase letters and digits).')
param storageAccountName string

@description('Name of the workspace\'s Key Vault (kv-<token>).')
param keyVaultName string

@description('Name of the workspace\'s Application Insights component (appi-<token> style).')
param applicationInsightsName string

@description('Resource id of the Log Analytics workspace the component writes to.')
param logAnalyticsId string

@description('Name of the Data Lake Storage Gen2 account of the event lake, in this resource group.')
param lakeAccountName string

@description('File system (container) of the lake the datastore points at.')
param lakeFileSystem string

@description('Name of the datastore in the workspace.')
var datastoreName = 'eventlake'

module storage 'storageAccount.bicep' = {
  params: {
    name: storageAccountName
    location: location
    tags: tags
    isHnsEnabled: false
    containerNames: []
    roleGrants: []
    containerRoleGrants: []
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalyticsId
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'Default'
  sku: {
    name: 'Basic'
    tier: 'Basic'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    friendlyName: 'Order events'
    description: 'Training sets from the order event lake (Parquet and MLTable in the events file system).'
    storageAccount: storage.outputs.id
    keyVault: keyVault.id
    applicationInsights: applicationInsights.id
    // The workspace reaches its own storage with its identity, as the account accepts no shared key.
    systemDatastoresAuthMode: 'identity'
    publicNetworkAccess: 'Enabled'
    hbiWorkspace: false
  }
}

resource lake 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: lakeAccountName
}

// Identity-based: credentials None, so the datastore stores no secret; data is read with the identity of the
// caller, or the workspace's for the studio's previews.
resource lakeDatastore 'Microsoft.MachineLearningServices/workspaces/datastores@2026-09-01' = {
  parent: workspace
  name: datastoreName
  properties: {
    datastoreType: 'AzureDataLakeGen2'
    description: 'The order event lake: events as Parquet partitioned by business date, with MLTable files.'
    accountName: lake.name
    filesystem: lakeFileSystem
    endpoint: environment().suffixes.storage
    protocol: 'https'
    serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity'
    credentials: {
      credentialsType: 'None'
    }
  }
}

// Storage Blob Data Reader (2a2b9908-6ea1-4ae2-8e65-a410df84e7d1) on the lake: the workspace reads, never writes.
resource lakeReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lake.id, name, roleIds.storageBlobDataReader)
  scope: lake
  properties: {
    principalId: workspace.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    description: 'The Machine Learning workspace reads the event lake through its identity-based datastore.'
  }
}

resource workspaceStorage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

// Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe) on the workspace's own storage: with shared
// keys disabled, the workspace writes its artifacts and snapshots there with its identity.
resource workspaceStorageContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspaceStorage.id, name, roleIds.storageBlobDataContributor)
  scope: workspaceStorage
  properties: {
    principalId: workspace.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roleIds.storageBlobDataContributor
    )
    description: 'The Machine Learning workspace keeps its artifacts in its own storage without shared keys.'
  }
}

@description('Resource id of the workspace.')
output id string = workspace.id

@description('Name of the workspace.')
output name string = workspace.name

@description('Name of the datastore on the event lake.')
output datastoreName string = lakeDatastore.name
