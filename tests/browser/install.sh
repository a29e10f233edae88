#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser tests (tests/test_dashboard.py), which
# drive it with Playwright for Python (the `playwright` package of the test extra) through
# executable_path: Playwright downloads no browser of its own. Nothing to do when it is there.
set -euo pipefail
CHROMIUM="${HUB_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install.sh: $CHROMIUM is missing and there is no apt-get: install Chromium and set HUB_CHROMIUM to it" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
"$CHROMIUM" --version
