import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { renderWeeklyReportHtml } from '../../../../lib/reports/html';
import { runningCampaigns, weeklyReport } from '../../../../lib/reports/weekly';

const properties: INodeProperties[] = [
	{
		displayName: 'Period',
		name: 'period',
		type: 'options',
		options: [
			{ name: 'Last 7 Days', value: 'last7' },
			{ name: 'Last 30 Days', value: 'last30' },
			{ name: 'Custom', value: 'custom' },
		],
		default: 'last7',
	},
	{
		displayName: 'From',
		name: 'from',
		type: 'dateTime',
		default: '',
		displayOptions: { show: { period: ['custom'] } },
	},
	{
		displayName: 'To',
		name: 'to',
		type: 'dateTime',
		default: '',
		description: 'End of the period (exclusive)',
		displayOptions: { show: { period: ['custom'] } },
	},
	{
		displayName: 'List Length',
		name: 'listLength',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 10,
		description: 'How many templates the top lists and the error list show (1 to 100)',
	},
	{
		displayName: 'Include HTML',
		name: 'includeHtml',
		type: 'boolean',
		default: true,
		description: 'Whether to add the report as e-mail-ready HTML (tables and a bar chart) in the "html" field',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['report'], operation: ['weekly'] } }, properties);

const DAY = 86_400_000;

export async function execute(this: IExecuteFunctions, pool: Pool, i: number): Promise<IDataObject> {
	const period = this.getNodeParameter('period', i, 'last7') as string;
	const now = Date.now();
	// Validated once, by the use case (lib/reports/weekly.ts).
	const [report, campaigns] = await Promise.all([
		weeklyReport(pool, {
			from: period === 'custom' ? (this.getNodeParameter('from', i) as string) : new Date(now - (period === 'last30' ? 30 : 7) * DAY),
			to: period === 'custom' ? (this.getNodeParameter('to', i) as string) : new Date(now),
			limit: this.getNodeParameter('listLength', i, 10) as number,
		}),
		runningCampaigns(pool),
	]);
	const includeHtml = this.getNodeParameter('includeHtml', i, true) as boolean;
	return {
		...(report as unknown as IDataObject),
		runningCampaigns: campaigns as unknown as IDataObject[],
		...(includeHtml ? { html: renderWeeklyReportHtml(report, campaigns) } : {}),
	};
}
