#!/usr/bin/env bash
# Batch runs this in the orchestrator container. Everything happens in the bundled agent,
# which exits with Nextflow's exit code.
set -euo pipefail
exec node /opt/arc/orchestrator/main.js "$@"
