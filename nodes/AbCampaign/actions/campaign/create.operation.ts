import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { createCampaign, type CampaignVariantSpec, type CreateCampaignInput } from '../../../../lib/campaigns';
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

interface VariantParameter {
	key?: unknown;
	template?: unknown;
	version?: unknown;
	weight?: unknown;
	isControl?: unknown;
}

/**
 * One row of the Variants collection as the use case's variant: "Template" holds a name or an ID,
 * "Version or Label" a version number or a label. Values pass through as given otherwise; the
 * use case's schema says what is wrong with them.
 */
function variantFromParameter(raw: VariantParameter): CampaignVariantSpec {
	const template = String(raw.template ?? '').trim();
	const selector = String(raw.version ?? '').trim() || 'production';
	return {
		key: String(raw.key ?? ''),
		template: UUID.test(template) ? { id: template } : { name: template },
		...(/^\d+$/.test(selector) ? { version: Number(selector) } : { label: selector }),
		// an expression may give the weight as text
		weight: typeof raw.weight === 'string' && raw.weight.trim() !== '' ? Number(raw.weight) : (raw.weight as number),
		isControl: raw.isControl === true || raw.isControl === 'true',
	};
}

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const options = this.getNodeParameter('options', i, {}) as { seed?: string };
	const mode = this.getNodeParameter('mode', i, 'fixed') as CreateCampaignInput['mode'];
	const rawVariants = (this.getNodeParameter('variants', i, {}) as { variant?: VariantParameter[] }).variant ?? [];
	const campaign = await createCampaign(pool, {
		name: this.getNodeParameter('name', i) as string,
		description: this.getNodeParameter('description', i, '') as string,
		variants: rawVariants.map(variantFromParameter),
		primaryMetric: this.getNodeParameter('primaryMetric', i, 'good_rating_share') as CreateCampaignInput['primaryMetric'],
		minSamplePerVariant: this.getNodeParameter('minSamplePerVariant', i, 100) as number,
		mode,
		// the floor is shown (and read) in Thompson mode only
		...(mode === 'thompson' ? { thompsonFloor: this.getNodeParameter('thompsonFloor', i, 0.05) as number } : {}),
		seed: options.seed,
	});
	return campaignToJson(campaign);
}
