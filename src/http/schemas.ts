/**
 * Request-body pieces shared by several routes. The naming rules and limits themselves live in
 * src/core/names.ts, so a body and a metadata document give a name the same verdict.
 */
import { FactoryName, Guid, PARAMETER_NAME_RE, Parameters, PipelineName, ResourceGroupName, TimeoutSeconds } from '../core/names';

export { Parameters, TimeoutSeconds };
/** ADF parameter names (for `pauseIdParameter`). */
export const ParameterName = PARAMETER_NAME_RE;

/** A pipeline, and where it lives when that is not the default factory. */
export const PipelineRefShape = {
  pipeline: PipelineName,
  factory: FactoryName.optional(),
  resourceGroup: ResourceGroupName.optional(),
  subscriptionId: Guid.optional(),
};
