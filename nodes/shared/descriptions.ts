import type { INodeProperties } from 'n8n-workflow';

const UUID_REGEX = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** Template picker shared by every node: searchable list, by name, or by ID. */
export const templateRLC: INodeProperties = {
	displayName: 'Template',
	name: 'template',
	type: 'resourceLocator',
	default: { mode: 'list', value: '' },
	required: true,
	modes: [
		{
			displayName: 'From List',
			name: 'list',
			type: 'list',
			typeOptions: { searchListMethod: 'searchTemplates', searchable: true },
		},
		{
			displayName: 'By Name',
			name: 'name',
			type: 'string',
			placeholder: 'e.g. product-hero',
		},
		{
			displayName: 'By ID',
			name: 'id',
			type: 'string',
			placeholder: 'e.g. 2f1c0b7e-4a8d-4e57-9a1e-0c9b0f4f3d21',
			validation: [
				{
					type: 'regex',
					properties: { regex: `^${UUID_REGEX}$`, errorMessage: 'Not a template ID (a UUID)' },
				},
			],
		},
	],
};

/** Which version of the template to use: a label (default production) or a fixed version number. */
export function versionSelectorFields(show: INodeProperties['displayOptions']): INodeProperties[] {
	return [
		{
			displayName: 'Version Selection',
			name: 'versionSelection',
			type: 'options',
			options: [
				{ name: 'By Label', value: 'label', description: 'Follow a movable label such as production' },
				{ name: 'By Version Number', value: 'version', description: 'Pin an exact, immutable version' },
			],
			default: 'label',
			displayOptions: show,
		},
		{
			displayName: 'Label Name or ID',
			name: 'label',
			type: 'options',
			typeOptions: { loadOptionsMethod: 'getLabels', loadOptionsDependsOn: ['template.value'] },
			default: 'production',
			description:
				'Label to resolve. "production" falls back to the newest version while the template has no production label. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
			displayOptions: { show: { ...(show?.show ?? {}), versionSelection: ['label'] } },
		},
		{
			displayName: 'Version',
			name: 'version',
			type: 'number',
			typeOptions: { minValue: 1 },
			default: 1,
			displayOptions: { show: { ...(show?.show ?? {}), versionSelection: ['version'] } },
		},
	];
}

/** n8n's standard "Return All" + "Limit" pair for Get Many operations. */
export const returnAllOrLimitFields: INodeProperties[] = [
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		displayOptions: { show: { returnAll: [false] } },
	},
];

const sortOrder = (order: 'asc' | 'desc'): INodeProperties => ({
	displayName: 'Order',
	name: 'sortOrder',
	type: 'options',
	options: [
		{ name: 'Ascending', value: 'asc' },
		{ name: 'Descending', value: 'desc' },
	],
	default: order,
});

/**
 * The "Sort" collection of a Get Many operation: the operation's Sort By (its use case's
 * whitelisted fields), Order, and any extra options of that operation (e.g. Offset).
 */
export function sortCollection(sortBy: INodeProperties, order: 'asc' | 'desc', extraOptions: INodeProperties[] = []): INodeProperties {
	return {
		displayName: 'Sort',
		name: 'sort',
		type: 'collection',
		placeholder: 'Add Sort Option',
		default: {},
		options: [sortBy, sortOrder(order), ...extraOptions],
	};
}
