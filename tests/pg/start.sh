#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for gavel's ledger tests and prints
# its DSN on stdout (everything else goes to stderr), so callers can do
#
#   export GAVEL_TEST_POSTGRES_DSN=$(bash tests/pg/start.sh)
#
# Usage: start.sh [DATA_DIR] [PORT]   (defaults: /tmp/gavel-pg 55432)
#
# Installs Debian's postgresql package first when it is missing and this runs
# as root. Idempotent: an existing cluster in DATA_DIR is reused, a running one is left
# running (and its own port is reported). Uses Debian's postgresql package
# (apt-get install postgresql). As root, the cluster runs as the postgres
# user; otherwise as the calling user. Authentication is "trust" on
# 127.0.0.1 only: this is a test cluster, never a production one.
# Stop it with: pg_ctl -D DATA_DIR stop (as the same user).
set -euo pipefail

datadir=${1:-/tmp/gavel-pg}
port=${2:-55432}
sockdir=/tmp

die() { echo "tests/pg/start.sh: $*" >&2; exit 1; }

[[ $port =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z $bindir && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
	echo "installing PostgreSQL from Debian's packages" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[[ -n $bindir && -x $bindir/initdb ]] ||
	die "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"

if [[ $(id -u) -eq 0 ]]; then
	id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user"
	as_pg() { runuser -u postgres -- "$@"; }
	mkdir -p "$datadir"
	chown postgres "$datadir"
else
	as_pg() { "$@"; }
	mkdir -p "$datadir"
fi
chmod 700 "$datadir"

if [[ ! -f $datadir/PG_VERSION ]]; then
	echo "initdb in $datadir" >&2
	as_pg "$bindir/initdb" -D "$datadir" -U postgres -A trust --no-sync >"$datadir.initdb.log" 2>&1 ||
		die "initdb failed, see $datadir.initdb.log"
fi

if as_pg "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
	# Already running: report the port it really listens on.
	port=$(sed -n 4p "$datadir/postmaster.pid")
	echo "PostgreSQL already running in $datadir on port $port" >&2
else
	echo "starting PostgreSQL in $datadir on port $port" >&2
	as_pg "$bindir/pg_ctl" -D "$datadir" -l "$datadir/log" -w -t 60 \
		-o "-p $port -k $sockdir -c listen_addresses=127.0.0.1" start >&2 ||
		die "pg_ctl start failed, see $datadir/log"
fi

"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30 || die "PostgreSQL on port $port is not accepting connections"
echo "postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable"
