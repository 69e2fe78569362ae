// Copies what tsc does not emit into dist/: node and credential icons, codex JSON files,
// and the SQL migrations that lib/db/migrator.ts applies at run time.
const { src, dest, parallel } = require('gulp');

function copyIcons() {
	return src(['nodes/**/*.{png,svg}', 'credentials/**/*.{png,svg}'], { base: '.', encoding: false }).pipe(dest('dist'));
}

function copyMigrations() {
	return src('migrations/*.sql', { base: '.' }).pipe(dest('dist'));
}

exports.build = parallel(copyIcons, copyMigrations);
exports.default = exports.build;
