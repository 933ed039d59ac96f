#!/usr/bin/env bash
# The tests start a throw-away PostgreSQL server (tests/postgres.py): install Debian's server where missing.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
echo "ensure_postgres: installing the PostgreSQL server (apt-get install postgresql) for the tests" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
# Debian starts a cluster of its own on install; the tests use their own, so stop it where it runs.
$SUDO service postgresql stop >/dev/null 2>&1 || true
