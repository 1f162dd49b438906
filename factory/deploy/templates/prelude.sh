#!/usr/bin/env bash
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${DATABASE_URL:-}" ]; then
  echo "$(basename "$0"): DATABASE_URL is not set (e.g. export DATABASE_URL=postgresql://user@127.0.0.1:5432/db)" >&2
  exit 2
fi
if ! command -v psql >/dev/null 2>&1; then
  echo "$(basename "$0"): psql not found; install the PostgreSQL client (apt-get install postgresql-client)" >&2
  exit 2
fi
# DATABASE_URL is never echoed: it may hold a password.
sql() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -X -q "$@"; }
