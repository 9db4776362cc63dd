// adf-conductor: Azure deployment.
//
// A Linux Function App (Node, Functions v4) on the Flex Consumption plan (FC1) with a
// system-assigned managed identity, Application Insights (workspace-based), and one storage
// account used for everything: the Functions host (AzureWebJobsStorage, identity-based), the
// deployment package container, and the app's own tables (CONDUCTOR_STORAGE = table endpoint).
// Optional: Azure Communication Services Email (deployEmail).
// The identity gets Data Factory Contributor on each target factory (module scoped to the
// factory's resource group), Storage Blob Data Owner + Storage Table Data Contributor on the
// storage account, and, with email, Communication and Email Service Owner on the ACS resource.
//
// Deploy: `azd up` (see azure.yaml) or `az deployment group create` (see docs/deploy.md).
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Environment name (azd: AZURE_ENV_NAME). Seeds the resource names and the azd-env-name tag.')
param environmentName string

@description('Region of the Function App, plan, storage and monitoring. Must support Flex Consumption (`az functionapp list-flexconsumption-locations`).')
param location string = resourceGroup().location

@maxLength(60)
@description('Function App name (globally unique; becomes <name>.azurewebsites.net). Empty: func-conductor-<token>.')
param functionAppName string = ''

@description('Resource id of the default Data Factory: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.DataFactory/factories/<name>. Sets ADF_SUBSCRIPTION_ID, ADF_RESOURCE_GROUP and ADF_FACTORY_NAME.')
param dataFactoryResourceId string

@description('Resource ids of further factories (same tenant) named in the metadata\'s `factories:`. The identity gets the same role on each. Do not repeat the default factory.')
param additionalDataFactoryResourceIds array = []

@description('Create the role assignments on the factories. Needs Owner / User Access Administrator / Role Based Access Control Administrator there; set false if someone else grants them.')
param grantDataFactoryRoles bool = true

@description('Role granted on each factory. Default: Data Factory Contributor. Pass a custom role GUID for tighter rights (docs/deploy.md).')
param dataFactoryRoleDefinitionId string = '673868aa-7521-48a0-acc6-0f60742d39f5'

@minLength(1)
@maxLength(30)
@description('CONDUCTOR_TABLE_PREFIX: prefix of every table the app owns (letters and digits, starting with a letter).')
param tablePrefix string = 'conductor'

@description('SWEEP_SCHEDULE: NCRONTAB with seconds for the Sweep timer.')
param sweepSchedule string = '*/30 * * * * *'

@minValue(1)
@maxValue(31536000)
@description('PAUSE_DEFAULT_TTL_SECONDS: lifetime of a pause when the request gives none. Must not exceed pauseMaxTtlSeconds.')
param pauseDefaultTtlSeconds int = 86400

@minValue(1)
@maxValue(31536000)
@description('PAUSE_MAX_TTL_SECONDS: largest expiresInSeconds a request may ask for.')
param pauseMaxTtlSeconds int = 2592000

@description('Deploy Azure Communication Services Email (Azure-managed domain) and set EMAIL_ENDPOINT / EMAIL_SENDER. Without it, mail is written to a temporary folder on the instance and effectively dropped.')
param deployEmail bool = false

@description('ACS data location (only with deployEmail), e.g. "United States", "Europe", "UK".')
param emailDataLocation string = 'United States'

@allowed([
  '20'
  '22'
])
@description('Node.js major version of the Functions runtime.')
param nodeVersion string = '22'

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory (MB).')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Flex Consumption maximum instance count (bounds scale-out, hence ARM and storage load).')
param maximumInstanceCount int = 100

@description('Allow shared-key (account key / SAS) access to the storage account. Off: everything uses Microsoft Entra ID. Turn on only if a tool that needs keys must read the tables (e.g. an ADF Lookup on the pauses table).')
param allowSharedKeyAccess bool = false

@description('Extra app settings merged last (they win), e.g. {"RUN_STALE_SECONDS": "600"}. Values must be strings. Do not put secrets here.')
param extraAppSettings object = {}

@description('Extra tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// Names and derived values
// ---------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })

var appName = empty(functionAppName) ? 'func-conductor-${resourceToken}' : functionAppName
var planName = 'plan-conductor-${resourceToken}'
var storageAccountName = 'stcond${resourceToken}'
var logAnalyticsName = 'log-conductor-${resourceToken}'
var appInsightsName = 'appi-conductor-${resourceToken}'
var deploymentContainerName = 'app-package'

// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DataFactory/factories/{name}
var factoryIdParts = split(dataFactoryResourceId, '/')
var adfSubscriptionId = factoryIdParts[2]
var adfResourceGroup = factoryIdParts[4]
var adfFactoryName = last(factoryIdParts)
var factoryIds = union([dataFactoryResourceId], additionalDataFactoryResourceIds)

// Table endpoint without a trailing slash: https://<account>.table.core.windows.net
var tableEndpoint = 'https://${storageAccountName}.table.${environment().suffixes.storage}'

var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

// ---------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: logAnalyticsName
  location: location
  tags: allTags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: allTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
  }
}

// ---------------------------------------------------------------------------------------------
// Storage: host storage, deployment package container, and the app's tables
// ---------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: allTags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The app creates its own tables (${prefix}Runs, ${prefix}Pauses, ...) on first use.
resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// ---------------------------------------------------------------------------------------------
// Function App on Flex Consumption
// ---------------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: allTags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(allTags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    // On Flex Consumption the runtime (instead of FUNCTIONS_WORKER_RUNTIME / linuxFxVersion) and the
    // package location (instead of WEBSITE_RUN_FROM_PACKAGE) are set here, not in app settings.
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
  dependsOn: [
    deploymentContainer
  ]
}

// ---------------------------------------------------------------------------------------------
// Role assignments for the app's identity
// ---------------------------------------------------------------------------------------------

// Host storage (AzureWebJobsStorage__accountName): function keys, timer singleton leases, and the
// deployment package container. Storage Blob Data Owner is what the Functions docs require.
resource storageBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'adf-conductor: Functions host storage and deployment package'
  }
}

// The app's own tables (CONDUCTOR_STORAGE = table endpoint, reached with DefaultAzureCredential).
resource storageTableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'adf-conductor: runs, pauses, executions, queues, metadata tables'
  }
}

// Data Factory Contributor (or the role given) on each target factory, in the factory's own
// subscription and resource group.
module factoryRoles 'modules/factory-role.bicep' = [for (factoryId, i) in factoryIds: if (grantDataFactoryRoles) {
  name: 'conductor-factory-role-${i}-${uniqueString(factoryId, appName)}'
  scope: resourceGroup(split(factoryId, '/')[2], split(factoryId, '/')[4])
  params: {
    factoryName: last(split(factoryId, '/'))
    principalId: functionApp.identity.principalId
    roleDefinitionId: dataFactoryRoleDefinitionId
  }
}]

// ---------------------------------------------------------------------------------------------
// Optional: Azure Communication Services Email
// ---------------------------------------------------------------------------------------------

module email 'modules/email.bicep' = if (deployEmail) {
  name: 'conductor-email-${resourceToken}'
  params: {
    communicationServiceName: 'acs-conductor-${resourceToken}'
    emailServiceName: 'email-conductor-${resourceToken}'
    dataLocation: emailDataLocation
    principalId: functionApp.identity.principalId
    tags: allTags
  }
}

// ---------------------------------------------------------------------------------------------
// App settings (every key src/config.ts needs in Azure; the rest keep their code defaults)
// ---------------------------------------------------------------------------------------------

var baseAppSettings = {
  // Functions host
  AzureWebJobsStorage__accountName: storage.name
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString

  // adf-conductor
  CONDUCTOR_STORAGE: tableEndpoint
  CONDUCTOR_TABLE_PREFIX: tablePrefix
  ADF_SUBSCRIPTION_ID: adfSubscriptionId
  ADF_RESOURCE_GROUP: adfResourceGroup
  ADF_FACTORY_NAME: adfFactoryName
  ADF_CREDENTIAL: 'default'
  PUBLIC_BASE_URL: 'https://${functionApp.properties.defaultHostName}'
  SWEEP_SCHEDULE: sweepSchedule
  PAUSE_DEFAULT_TTL_SECONDS: string(pauseDefaultTtlSeconds)
  PAUSE_MAX_TTL_SECONDS: string(pauseMaxTtlSeconds)
  // Only used when no EMAIL_* is set: the app content is read-only, /tmp is writable (and ephemeral).
  EMAIL_OUTBOX_DIR: '/tmp/adf-conductor-outbox'
}

var emailAppSettings = deployEmail ? {
  EMAIL_ENDPOINT: email.outputs.endpoint
  EMAIL_SENDER: email.outputs.sender
} : {}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(baseAppSettings, emailAppSettings, extraAppSettings)
  dependsOn: [
    storageBlobRole
    storageTableRole
  ]
}

// ---------------------------------------------------------------------------------------------
// Outputs (azd stores them in .azure/<env>/.env)
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_DEFAULT_HOSTNAME string = functionApp.properties.defaultHostName
output FUNCTION_APP_PRINCIPAL_ID string = functionApp.identity.principalId
output FUNCTION_APP_BASE_URL string = 'https://${functionApp.properties.defaultHostName}'
output STORAGE_ACCOUNT_NAME string = storage.name
output APPLICATION_INSIGHTS_NAME string = appInsights.name
output EMAIL_SENDER_ADDRESS string = deployEmail ? email.outputs.sender : ''
