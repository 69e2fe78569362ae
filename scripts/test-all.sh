#!/usr/bin/env bash
# `npm test`: everything a change must pass, in the order that fails fastest.
# Postgres: DATABASE_URL when set, otherwise an embedded server (dev/postgres.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

results_dir=$(mktemp -d)
trap 'rm -rf "$results_dir"' EXIT

# Tests write only into ignored folders (.n8n-local/, dist/, the system temp dir): the working tree
# must look the same afterwards (checked at the end when this is a git checkout).
tree_state() { git status --porcelain=v1 --untracked-files=all 2>/dev/null || true; }
in_git=false
git rev-parse --is-inside-work-tree >/dev/null 2>&1 && in_git=true
$in_git && tree_state >"$results_dir/tree-before"

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

if $in_git; then
	tree_state >"$results_dir/tree-after"
	if ! diff -q "$results_dir/tree-before" "$results_dir/tree-after" >/dev/null; then
		echo "The test run changed the working tree (git status before → after):"
		diff "$results_dir/tree-before" "$results_dir/tree-after" | grep '^[<>]' || true
		echo "Tests must write only into ignored folders (.n8n-local/, dist/, the temp dir)."
		[ "$status" -ne 0 ] || status=1
	fi
fi
exit "$status"
