#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (make test-browser), only when it is missing.
# Playwright drives this system browser (executable_path); it never downloads a browser build of its own.
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "error: $CHROMIUM is missing and apt-get is not here; install Chromium and set CHROMIUM=/path/to/it" >&2
  exit 2
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
test -x "$CHROMIUM"
"$CHROMIUM" --version
