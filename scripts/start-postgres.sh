#!/usr/bin/env bash
# Starts the Debian PostgreSQL cluster and makes sure the test role and database exist; idempotent.
# Installs nothing (scripts/os-deps.sh does). Prints only the database URL on stdout, so that
#   RELAPSE_TEST_POSTGRES_URL="$(scripts/start-postgres.sh)"
# works; progress goes to stderr. Runs as root (or through sudo). The password is for a throw-away local test
# database listening on 127.0.0.1; override it with RELAPSE_TEST_POSTGRES_PASSWORD.
set -euo pipefail

role=relapse
database=relapse_test
password=${RELAPSE_TEST_POSTGRES_PASSWORD:-relapse-test-only}

say() { echo "start-postgres: $*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  say "PostgreSQL is not installed; run scripts/os-deps.sh (make os-deps) first"
  exit 1
fi

# The newest installed cluster: "version name port status owner datadir logfile".
cluster=$(pg_lsclusters --no-header | sort -V | tail -n 1 || true)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  say "creating cluster $version/main"
  $SUDO pg_createcluster "$version" main >&2
  cluster=$(pg_lsclusters --no-header | sort -V | tail -n 1)
fi
read -r version name port status _ <<<"$cluster"

if [ "$status" != "online" ]; then
  say "starting cluster $version/$name on port $port"
  $SUDO pg_ctlcluster "$version" "$name" start >&2
fi
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
  sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  say "cluster $version/$name does not accept connections on 127.0.0.1:$port"
  exit 1
fi

as_postgres() { $SUDO runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

# Password passed as a psql variable (:'pw' quotes it), never interpolated into the SQL text by the shell.
as_postgres -d postgres -v pw="$password" <<'SQL' >&2
SELECT format('CREATE ROLE relapse LOGIN PASSWORD %L', :'pw') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relapse')
\gexec
SELECT format('ALTER ROLE relapse LOGIN PASSWORD %L', :'pw')
\gexec
SELECT 'CREATE DATABASE relapse_test OWNER relapse' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'relapse_test')
\gexec
SQL

# Tests create one schema each; the database owner may do so, and owns the public schema too.
as_postgres -d "$database" -c "ALTER SCHEMA public OWNER TO $role" >&2

encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$password")
echo "postgresql+psycopg://$role:$encoded@127.0.0.1:$port/$database"
