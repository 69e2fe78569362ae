import { getLabels, searchTemplates } from '../../shared/methods';
import { getCheckpoints } from './loadOptions';

/** getLabels and searchTemplates are shared (nodes/shared/methods): the template picker works the same in every node. */
export const loadOptions = { getCheckpoints, getLabels };
export const listSearch = { searchTemplates };
export { comfyUiApiConnectionTest } from './credentialTest';
export { promptLabPostgresConnectionTest } from '../../shared/postgres';
