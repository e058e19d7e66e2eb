// Log Analytics and workspace-based Application Insights for the Function App. Local auth is off on both: the
// host sends telemetry with an Entra ID token of the app's identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING),
// which holds Monitoring Metrics Publisher on the component, and nothing accepts the instrumentation key alone.
import { roleIds, tagsType } from 'types.bicep'

@description('Name of the Log Analytics workspace (log-<token>).')
param logAnalyticsName string

@description('Name of the Application Insights component (appi-<token>).')
param applicationInsightsName string

@description('Region of both.')
param location string

@description('Tags of both.')
param tags tagsType

@description('Days Log Analytics keeps the data (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int

@description('Name of the user-assigned identity that sends telemetry (the Function App\'s), in this resource group.')
param publisherIdentityName string

resource publisherIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: publisherIdentityName
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

// Monitoring Metrics Publisher (3913510d-42f4-4e42-8a64-420c390055eb): ingest telemetry into this component.
resource publisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, publisherIdentityName, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: publisherIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roleIds.monitoringMetricsPublisher
    )
    description: 'The Function App sends telemetry with Entra ID (local auth is disabled).'
  }
}

@description('Resource id of the Log Analytics workspace.')
output logAnalyticsId string = logAnalytics.id

@description('Resource id of the Application Insights component.')
output applicationInsightsId string = applicationInsights.id

@description('Name of the Application Insights component.')
output applicationInsightsName string = applicationInsights.name
