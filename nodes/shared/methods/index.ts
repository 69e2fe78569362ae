/**
 * Editor methods several nodes share: the template picker (searchTemplates, for templateRLC), its
 * label list (getLabels) and the category list (getCategories). A node lists the ones it uses in
 * its `methods`.
 */
export { searchTemplates } from './listSearch';
export { getCategories, getLabels } from './loadOptions';
