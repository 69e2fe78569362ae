export * as listSearch from './listSearch';
export { promptLabPostgresConnectionTest } from '../../shared/postgres';
