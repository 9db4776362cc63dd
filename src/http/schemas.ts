/**
 * Request-body pieces shared by several routes. The naming rules and limits themselves live in
 * src/core/names.ts, so a body and a metadata document give a name the same verdict.
 */
import { z } from 'zod';
import { MAX_CALLBACK_SECONDS, MAX_CALLBACK_URI_CHARS } from '../core/outbox/outbox';
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

/**
 * ADF's Webhook activity adds `callBackUri` at the top level of the body it sends; `callbackTimeoutSeconds`
 * is its timeout (default and at most 7 days). The scheme rule (https; loopback http only when allowed) is
 * checked by `checkCallbackRequest` with the app's settings. The URI is a secret: problems never quote it.
 */
export const CallbackFields = {
  callBackUri: z.string('must be a string').min(1, 'must not be empty').max(MAX_CALLBACK_URI_CHARS, `must be at most ${MAX_CALLBACK_URI_CHARS} characters`).optional(),
  callbackTimeoutSeconds: z.number('must be a number of seconds').int('must be an integer').min(1, 'must be at least 1').max(MAX_CALLBACK_SECONDS, `must be at most ${MAX_CALLBACK_SECONDS} (7 days, ADF's limit)`).optional(),
};
