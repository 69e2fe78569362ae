/**
 * n8n's community-node lint rules (eslint-plugin-n8n-nodes-base) on what n8n loads:
 * package.json, credentials/ and nodes/. lib/, test/ and bench/ are plain TypeScript checked by tsc.
 */
module.exports = {
	root: true,
	env: { node: true, es2022: true },
	parser: '@typescript-eslint/parser',
	parserOptions: { sourceType: 'module', extraFileExtensions: ['.json'] },
	ignorePatterns: ['.eslintrc.js', '**/*.js', '**/node_modules/**', '**/dist/**'],
	overrides: [
		{
			files: ['package.json'],
			plugins: ['eslint-plugin-n8n-nodes-base'],
			extends: ['plugin:n8n-nodes-base/community'],
			rules: { 'n8n-nodes-base/community-package-json-name-still-default': 'off' },
		},
		{
			files: ['./credentials/**/*.ts'],
			plugins: ['eslint-plugin-n8n-nodes-base'],
			extends: ['plugin:n8n-nodes-base/credentials'],
			parserOptions: { project: ['./tsconfig.json'] },
			rules: {
				'n8n-nodes-base/cred-class-field-documentation-url-missing': 'off',
				'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
			},
		},
		{
			files: ['./nodes/**/*.ts'],
			plugins: ['eslint-plugin-n8n-nodes-base'],
			extends: ['plugin:n8n-nodes-base/nodes'],
			parserOptions: { project: ['./tsconfig.json'] },
			rules: {
				// Layout of n8n's Postgres v2 node: the description lives in actions/versionDescription.ts.
				'n8n-nodes-base/node-filename-against-convention': 'off',
				// NodeConnectionTypes.Main is what n8n-workflow 2.x wants (n8n's node-cli turns this rule off too).
				'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
				'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
				// Database credentials are not HTTP APIs (n8n's own are "postgres", "mySql"), so no -Api suffix.
				'n8n-nodes-base/node-class-description-credentials-name-unsuffixed': 'off',
				'n8n-nodes-base/node-execute-block-missing-continue-on-fail': 'off',
				'n8n-nodes-base/node-resource-description-filename-against-convention': 'off',
				'n8n-nodes-base/node-param-fixed-collection-type-unsorted-items': 'off',
			},
		},
	],
};
