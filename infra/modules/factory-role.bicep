// Grants the conductor's managed identity a role on one Data Factory.
// Deployed as a module scoped to the factory's own resource group (and subscription),
// so the factory may live anywhere in the same tenant as the identity.
targetScope = 'resourceGroup'

@description('Name of the existing Data Factory (Microsoft.DataFactory/factories) in this resource group.')
param factoryName string

@description('Object (principal) id of the function app\'s system-assigned identity.')
param principalId string

@description('Role definition GUID. Default: Data Factory Contributor.')
param roleDefinitionId string = '673868aa-7521-48a0-acc6-0f60742d39f5'

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource factoryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(factory.id, principalId, roleDefinitionId)
  scope: factory
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'adf-conductor: start, watch and cancel pipeline runs'
  }
}

output roleAssignmentId string = factoryRole.id
