export { getCategories } from '../../PromptTemplate/methods/loadOptions';
