import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';
import { z } from 'zod';

import { createCampaign, type CampaignVariantSpec } from '../../../../lib/db/campaigns';
import { PromptLabError } from '../../../../lib/db/errors';
import type { TemplateRef } from '../../../../lib/db/templates';
import { campaignToJson } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Name',
		name: 'name',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. hero-lighting-test',
		description: 'Unique name of the campaign (case-insensitive)',
	},
	{
		displayName: 'Description',
		name: 'description',
		type: 'string',
		typeOptions: { rows: 2 },
		default: '',
		placeholder: 'e.g. Does softer lighting get better ratings?',
	},
	{
		displayName: 'Variants',
		name: 'variants',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Variant',
		default: {
			variant: [
				{ key: 'control', template: '', version: 'production', weight: 1, isControl: true },
				{ key: 'B', template: '', version: 'staging', weight: 1, isControl: false },
			],
		},
		description: 'At least two; exactly one is the control. The order fixes how units are split (keep it once started).',
		options: [
			{
				displayName: 'Variant',
				name: 'variant',
				values: [
					{
						displayName: 'Key',
						name: 'key',
						type: 'string',
						default: '',
						placeholder: 'e.g. B',
						description: 'Short name of the variant, unique in the campaign (letters, digits, ".", "_", "-")',
					},
					{
						displayName: 'Template',
						name: 'template',
						type: 'string',
						default: '',
						placeholder: 'e.g. product-hero',
						description: 'Template name or ID',
					},
					{
						displayName: 'Version or Label',
						name: 'version',
						type: 'string',
						default: 'production',
						placeholder: 'e.g. 3 or staging',
						description:
							'A version number, or a label resolved to its version when the campaign is created (the version stays fixed if the label moves later)',
					},
					{
						displayName: 'Weight',
						name: 'weight',
						type: 'number',
						typeOptions: { minValue: 0, numberPrecision: 4 },
						default: 1,
						description: 'Share of traffic relative to the other variants (0 = no new units)',
					},
					{
						displayName: 'Control',
						name: 'isControl',
						type: 'boolean',
						default: false,
						description: 'Whether this is the baseline the others are compared with (exactly one)',
					},
				],
			},
		],
	},
	{
		displayName: 'Primary Metric',
		name: 'primaryMetric',
		type: 'options',
		options: [
			{
				name: 'Good-Rating Share',
				value: 'good_rating_share',
				description: 'Per user: the share of their ratings that are 4 or 5 stars',
			},
			{ name: 'Mean Rating', value: 'mean_rating', description: "Per user: the mean of their ratings (Welch's t-test)" },
			{ name: 'Success Rate', value: 'success_rate', description: 'Share of executions that succeeded' },
		],
		default: 'good_rating_share',
	},
	{
		displayName: 'Minimum Sample per Variant',
		name: 'minSamplePerVariant',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 100,
		description: 'No winner is declared before every variant has this many rated users (executions for success rate)',
	},
	{
		displayName: 'Mode',
		name: 'mode',
		type: 'options',
		options: [
			{ name: 'Fixed Split', value: 'fixed', description: 'Traffic follows the weights for the whole campaign' },
			{
				name: 'Thompson Sampling',
				value: 'thompson',
				description: 'After a burn-in, traffic moves towards the variants likely to be best (good for many variants)',
			},
		],
		default: 'fixed',
	},
	{
		displayName: 'Thompson Floor',
		name: 'thompsonFloor',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 0.5, numberPrecision: 3 },
		default: 0.05,
		description: 'Minimum share of new traffic every variant keeps in Thompson mode',
		displayOptions: { show: { mode: ['thompson'] } },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Seed',
				name: 'seed',
				type: 'string',
				default: '',
				description: 'Hashing seed for the split (generated when empty). The same seed and unit ID always give the same variant.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['create'] } }, properties);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const parameters = z.object({
	name: z.string().trim().min(1, 'is required').max(200, 'must be at most 200 characters'),
	description: z.string().max(5000),
	primaryMetric: z.enum(['good_rating_share', 'mean_rating', 'success_rate'], {
		errorMap: () => ({ message: 'must be good_rating_share, mean_rating or success_rate' }),
	}),
	minSamplePerVariant: z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1'),
	mode: z.enum(['fixed', 'thompson'], { errorMap: () => ({ message: 'must be fixed or thompson' }) }),
	thompsonFloor: z.number({ invalid_type_error: 'must be a number' }).min(0, 'must be 0 or more').max(0.5, 'must be at most 0.5'),
	seed: z.string().max(200).optional(),
});

interface VariantParameter {
	key?: unknown;
	template?: unknown;
	version?: unknown;
	weight?: unknown;
	isControl?: unknown;
}

function toVariant(raw: VariantParameter, index: number): CampaignVariantSpec {
	const where = `Variant ${index + 1}`;
	const template = String(raw.template ?? '').trim();
	if (!template) throw new PromptLabError(`${where}: no template given (its name or ID)`, 'variants');
	const ref: TemplateRef = UUID.test(template) ? { id: template } : { name: template };
	const selector = String(raw.version ?? '').trim() || 'production';
	const weight = typeof raw.weight === 'number' ? raw.weight : Number(String(raw.weight ?? '').trim() || NaN);
	return {
		key: String(raw.key ?? '').trim(),
		template: ref,
		...(/^\d+$/.test(selector) ? { version: Number(selector) } : { label: selector }),
		weight,
		isControl: raw.isControl === true || raw.isControl === 'true',
	};
}

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const options = this.getNodeParameter('options', i, {}) as { seed?: string };
	const mode = this.getNodeParameter('mode', i, 'fixed');
	const p = parameters.parse({
		name: this.getNodeParameter('name', i),
		description: this.getNodeParameter('description', i, ''),
		primaryMetric: this.getNodeParameter('primaryMetric', i, 'good_rating_share'),
		minSamplePerVariant: this.getNodeParameter('minSamplePerVariant', i, 100),
		mode,
		thompsonFloor: mode === 'thompson' ? this.getNodeParameter('thompsonFloor', i, 0.05) : 0.05,
		seed: options.seed?.trim() || undefined,
	});
	const rawVariants = (this.getNodeParameter('variants', i, {}) as { variant?: VariantParameter[] }).variant ?? [];
	const campaign = await createCampaign(pool, { ...p, variants: rawVariants.map(toVariant) });
	return campaignToJson(campaign);
}
