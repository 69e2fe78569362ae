import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

/**
 * Our own Postgres credential (n8n's lint forbids reusing n8n's built-in `postgres` credential from
 * a community package). Tested from the editor by the nodes' `promptLabPostgresConnectionTest`.
 */
export class PromptLabPostgres implements ICredentialType {
	name = 'promptLabPostgres';

	displayName = 'PromptLab Postgres';

	documentationUrl = 'https://github.com/promptlab/n8n-nodes-promptlab#credentials';

	icon: Icon = { light: 'file:icons/promptLabPostgres.svg', dark: 'file:icons/promptLabPostgres.dark.svg' };

	properties: INodeProperties[] = [
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: 'localhost',
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 5432,
		},
		{
			displayName: 'Database',
			name: 'database',
			type: 'string',
			default: 'postgres',
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: 'postgres',
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'options',
			options: [
				{ name: 'Allow', value: 'allow' },
				{ name: 'Disable', value: 'disable' },
				{ name: 'Require', value: 'require' },
				{ name: 'Verify Full', value: 'verify-full' },
			],
			default: 'disable',
		},
		{
			displayName: 'Ignore SSL Issues (Insecure)',
			name: 'allowUnauthorizedCerts',
			type: 'boolean',
			default: false,
			description: 'Whether to connect even if the server certificate cannot be verified',
			displayOptions: { show: { ssl: ['verify-full'] } },
		},
		{
			displayName: 'Schema',
			name: 'schema',
			type: 'string',
			default: 'promptlab',
			description:
				'Postgres schema that holds the PromptLab tables. Created and migrated automatically on first use.',
		},
		{
			displayName: 'Max Pool Size',
			name: 'maxPoolSize',
			type: 'number',
			typeOptions: { minValue: 1, maxValue: 100 },
			default: 10,
			description:
				'Connections each n8n process may open with this credential (a queue-mode worker is one process)',
		},
	];
}
