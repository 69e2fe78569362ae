export { getLabels } from '../../shared/methods';
