// The Function App's user-assigned managed identity: every connection of the app (host storage, Cosmos DB,
// Event Grid, dead-letter blobs, Application Insights ingestion) authenticates as it (docs/adr/0008).
import { tagsType } from 'types.bicep'

@description('Name of the identity (id-<token>).')
param name string

@description('Region of the identity.')
param location string

@description('Tags of the identity.')
param tags tagsType

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity.')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Object (principal) id of the identity, for role assignments.')
output principalId string = identity.properties.principalId

@description('Client id of the identity, for the app settings that pin the credential to it.')
output clientId string = identity.properties.clientId
