// Azure Communication Services Email with an Azure-managed sender domain
// (<guid>.azurecomm.net, verified by Azure, no DNS work), linked to a Communication
// Services resource that the app calls with its managed identity.
targetScope = 'resourceGroup'

@description('Name of the Communication Services resource.')
param communicationServiceName string

@description('Name of the Email Communication Services resource.')
param emailServiceName string

@description('Where ACS stores data at rest, e.g. "United States", "Europe", "UK".')
param dataLocation string = 'United States'

@description('Object (principal) id of the function app\'s system-assigned identity.')
param principalId string

@description('Sender user name on the Azure-managed domain. DoNotReply exists by default.')
param senderUsername string = 'DoNotReply'

param tags object = {}

// "Communication and Email Service Owner": the built-in role that allows sending email with
// a Microsoft Entra token. No narrower built-in role exists for Email send.
var emailSenderRoleId = '09976791-48a7-449e-bb21-39d1a415f350'

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      domain.id
    ]
  }
}

resource emailSenderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communicationService.id, principalId, emailSenderRoleId)
  scope: communicationService
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', emailSenderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'adf-conductor: send approval and alert emails'
  }
}

@description('Value for EMAIL_ENDPOINT.')
output endpoint string = 'https://${communicationService.properties.hostName}'

@description('Value for EMAIL_SENDER.')
output sender string = '${senderUsername}@${domain.properties.mailFromSenderDomain}'

output communicationServiceName string = communicationService.name
