#!/usr/bin/env bash
# Installs what `python -m bench` needs beside the project itself: wrk (apt) and PostGraphile 5
# with Node 22 (npm packages `postgraphile` and `node`, pinned in bench/postgraphile/package-lock.json,
# into bench/postgraphile/node_modules). Run as root for apt, or install wrk yourself first.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cd postgraphile
npm ci --no-audit --no-fund --loglevel=error >/dev/null  # errors still reach stderr
echo "wrk: $(command -v wrk); node $(node_modules/.bin/node --version); postgraphile $(node_modules/.bin/node -p 'require("./node_modules/postgraphile/package.json").version' 2>/dev/null || echo installed)"
