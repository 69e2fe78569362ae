/**
 * Campaign use cases: A/B campaigns over template versions. Each use case validates its input once
 * through its exported schema (defineInput) and reports failures as lib/errors codes; the SQL is
 * in lib/db/campaigns.ts.
 */
export type {
	Campaign,
	CampaignMode,
	CampaignPage,
	CampaignRef,
	CampaignSortField,
	CampaignStatus,
	CampaignVariant,
	SortOrder,
} from '../db/campaigns';
export type { PrimaryMetric } from '../stats';
export { getCampaign, getCampaignInput, listCampaigns, listCampaignsInput, type GetCampaignInput, type ListCampaignsInput } from './query';
export { createCampaign, createCampaignInput, type CampaignVariantSpec, type CreateCampaignInput } from './create';
export {
	campaignActionInput,
	completeCampaign,
	pauseCampaign,
	startCampaign,
	type CampaignAction,
	type CampaignActionInput,
} from './lifecycle';
export { assignUnit, assignUnitInput, type AssignOptions, type Assignment, type AssignUnitInput } from './assign';
export { computeThompsonAllocation, type ArmAggregates } from './allocation';
export {
	campaignResultsInput,
	getCampaignResults,
	campaignDecision,
	type CampaignDecisionResult,
	type CampaignDecisionStatus,
	type CampaignResults,
	type CampaignResultsInput,
	type ExecutionTotals,
	type ResultsOptions,
	type VariantResult,
} from './results';
export { promoteCampaign, promoteCampaignInput, type PromoteCampaignInput, type Promotion } from './promote';
