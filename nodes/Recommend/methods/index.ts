// The template picker and the category list are the Prompt Template node's; reused as they are.
export * as listSearch from '../../shared/methods/listSearch';
export * as loadOptions from './loadOptions';
export { promptLabPostgresConnectionTest } from '../../shared/postgres';
