#!/usr/bin/env bash
# Installs the pinned npm packages of the GraphQL over HTTP audit (tests/test_http_audit.py)
# from package-lock.json into node_modules beside this script.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error >/dev/null  # errors still reach stderr
