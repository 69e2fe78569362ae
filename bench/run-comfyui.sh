#!/usr/bin/env bash
# ComfyUI client benchmarks: ours (lib/comfyui) vs @saintno/comfyui-sdk vs n8n-nodes-comfyui-media,
# all on the ComfyUI simulator. Writes bench/results/comfyui-*.json and bench/results/comfyui.md.
# About 6 minutes on a 2-core machine; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
	echo
	echo "\$ npx ts-node --transpile-only $*"
	npx --no-install ts-node --transpile-only "$@"
}

run bench/comfyui-latency.ts --jobs 200 --media-jobs 5 --sim inproc
run bench/comfyui-throughput.ts --jobs 1000 --media-jobs 32 --concurrency 16 --sim child
run bench/comfyui-throughput.ts --jobs 1000 --concurrency 16 --sim inproc --clients promptlab,comfyui-sdk
run bench/comfyui-pool.ts --jobs 200 --callers 8,16 --steps 2 --repeat 3 --sim child
run bench/comfyui-memory.ts --mb 200
run bench/comfyui-report.ts
