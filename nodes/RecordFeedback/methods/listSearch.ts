// The template picker (templateRLC) and its label list behave exactly as in the Prompt Template node.
export { searchTemplates } from '../../shared/methods';
