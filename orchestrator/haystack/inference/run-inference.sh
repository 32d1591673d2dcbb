#!/usr/bin/env bash
# One HAYSTACK model call, the contract the stand-in (orchestrator/haystack/stack-standin.ts)
# implements: --prompt, --query, --output (gs:// or local paths), --genelist, --split-column,
# --steps, --seed. Copies the inputs down, runs STACK's stack-generation, copies the result up.
set -euo pipefail
declare -A arg=([split-column]=condition [steps]=5 [seed]=0 [genelist]="")
while [ $# -gt 0 ]; do
  case "$1" in
    --prompt|--query|--output|--genelist|--split-column|--steps|--seed) arg[${1#--}]="$2"; shift 2 ;;
    *) echo "run-inference: unknown argument $1" >&2; exit 2 ;;
  esac
done
for name in prompt query output; do
  [ -n "${arg[$name]:-}" ] || { echo "run-inference: --$name is required" >&2; exit 2; }
done
work=$(mktemp -d)
fetch() { case "$1" in gs://*) python3 -c "import sys; from google.cloud import storage; b, n = sys.argv[1][5:].split('/', 1); storage.Client().bucket(b).blob(n).download_to_filename(sys.argv[2])" "$1" "$2" ;; *) cp "$1" "$2" ;; esac; }
fetch "${arg[prompt]}" "$work/prompt.h5ad"
fetch "${arg[query]}" "$work/query.h5ad"
# The flags below follow stack-generation's documented inputs (prompt cells, query cells, gene
# list, split column, steps, seed); check them against the pinned ARC_STACK_VERSION.
stack-generation \
  --checkpoint /weights \
  --prompt-adata "$work/prompt.h5ad" \
  --query-adata "$work/query.h5ad" \
  ${arg[genelist]:+--genelist "${arg[genelist]}"} \
  --split-column "${arg[split-column]}" \
  --num-steps "${arg[steps]}" \
  --seed "${arg[seed]}" \
  --output "$work/pred.h5ad"
case "${arg[output]}" in
  gs://*) python3 -c "import sys; from google.cloud import storage; b, n = sys.argv[1][5:].split('/', 1); storage.Client().bucket(b).blob(n).upload_from_filename(sys.argv[2])" "${arg[output]}" "$work/pred.h5ad" ;;
  *) cp "$work/pred.h5ad" "${arg[output]}" ;;
esac
