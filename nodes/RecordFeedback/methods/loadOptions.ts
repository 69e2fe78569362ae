export { getLabels } from '../../PromptTemplate/methods/loadOptions';
