// The Event Grid custom topic the relay publishes the order stream to, as CloudEvents 1.0. Local (key) auth is
// off: publishers present an Entra ID token (the app's identity has EventGrid Data Sender). The topic's own
// system-assigned identity writes dead letters of its subscriptions to Storage (deadLetterWithResourceIdentity).
// The subscriptions themselves: infra/subscriptions.bicep (functions, after the code is deployed) and
// logicApp.bicep (the approval workflow).
import { roleIds, tagsType } from 'types.bicep'

@description('Name of the topic (evgt-<token>).')
param name string

@description('Region of the topic.')
param location string

@description('Tags of the topic.')
param tags tagsType

@description('Name of the user-assigned identity that publishes (the Function App\'s), in this resource group.')
param publisherIdentityName string

resource publisherIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: publisherIdentityName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    minimumTlsVersionAllowed: '1.2'
    publicNetworkAccess: 'Enabled'
    dataResidencyBoundary: 'WithinGeopair'
  }
}

// EventGrid Data Sender (d5a91429-5739-47e2-a06b-3470a27159e7): publish to this topic, nothing else.
resource publisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, publisherIdentityName, roleIds.eventGridDataSender)
  scope: topic
  properties: {
    principalId: publisherIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventGridDataSender)
    description: 'The order service relay publishes the order stream (EVENTGRID_TOPIC_ENDPOINT).'
  }
}

@description('Resource id of the topic.')
output id string = topic.id

@description('Name of the topic.')
output name string = topic.name

@description('Publishing endpoint of the topic (EVENTGRID_TOPIC_ENDPOINT).')
output endpoint string = topic.properties.endpoint

@description('Object id of the topic\'s system-assigned identity, which writes the subscriptions\' dead letters.')
output principalId string = topic.identity.principalId
