#!/usr/bin/env bash
# `npm test`: everything a change must pass, in the order that fails fastest.
# Postgres: DATABASE_URL when set, otherwise an embedded server (dev/postgres.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

results_dir=$(mktemp -d)
trap 'rm -rf "$results_dir"' EXIT

echo "== lint (n8n community node rules)"
npm run --silent lint
echo "== typecheck"
npm run --silent typecheck
echo "== build"
npm run --silent build >/dev/null

echo "== unit + integration tests (jest, real Postgres)"
status=0
npx jest --ci --json --outputFile="$results_dir/unit.json" || status=$?

if [ "$status" -eq 0 ] && [ -f jest.e2e.config.js ]; then
	echo "== end-to-end tests (real n8n)"
	npx jest -c jest.e2e.config.js --ci --json --outputFile="$results_dir/e2e.json" || status=$?
fi

# One plain closing line over every jest run, so a reader (or CI) need not add up several summaries.
node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of process.argv.slice(1)) {
	if (!fs.existsSync(f)) continue;
	const r = JSON.parse(fs.readFileSync(f, "utf8"));
	passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
	skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results_dir/unit.json" "$results_dir/e2e.json"
exit "$status"
