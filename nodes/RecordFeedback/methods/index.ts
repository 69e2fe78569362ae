export * as listSearch from './listSearch';
export * as loadOptions from './loadOptions';
export { promptLabPostgresConnectionTest } from '../../shared/postgres';
