// A hardened StorageV2 account: TLS 1.2, HTTPS only, no public blob access, no shared keys (Entra ID and RBAC
// only), with its blob containers and the built-in roles granted on it or on one of its containers.
import { containerRoleGrantType, roleGrantType, tagsType } from 'types.bicep'

@description('Name of the account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags of the account.')
param tags tagsType

@description('Hierarchical namespace: true makes it a Data Lake Storage Gen2 account (containers are file systems).')
param isHnsEnabled bool

@description('Blob containers (file systems on a Data Lake account) to create, all private.')
param containerNames string[]

@description('Roles granted at the scope of the account.')
param roleGrants roleGrantType[]

@description('Roles granted at the scope of one container.')
param containerRoleGrants containerRoleGrantType[]

resource account 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    isHnsEnabled: isHnsEnabled
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource accountRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in roleGrants: {
    name: guid(account.id, grant.principalName, grant.roleDefinitionId)
    scope: account
    properties: {
      principalId: grant.principalId
      principalType: grant.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleDefinitionId)
      description: grant.description
    }
  }
]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in containerRoleGrants: {
    name: guid(account.id, grant.containerName, grant.principalName, grant.roleDefinitionId)
    scope: containers[indexOf(containerNames, grant.containerName)]
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleDefinitionId)
      description: grant.description
    }
  }
]

@description('Resource id of the account.')
output id string = account.id

@description('Name of the account.')
output name string = account.name

@description('Blob service endpoint, https://<account>.blob.<storage suffix>/.')
output blobEndpoint string = account.properties.primaryEndpoints.blob
