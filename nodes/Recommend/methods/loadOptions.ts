export { getCategories } from '../../shared/methods';
