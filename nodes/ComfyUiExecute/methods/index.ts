import { getLabels } from '../../PromptTemplate/methods/loadOptions';
import { getCheckpoints } from './loadOptions';

/** getLabels and searchTemplates are the Prompt Template node's: the template picker works the same here. */
export const loadOptions = { getCheckpoints, getLabels };
export * as listSearch from '../../PromptTemplate/methods/listSearch';
export { comfyUiApiConnectionTest } from './credentialTest';
export { promptLabPostgresConnectionTest } from '../../shared/postgres';
