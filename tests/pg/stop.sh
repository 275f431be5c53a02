#!/usr/bin/env bash
# Stops the throwaway PostgreSQL cluster that tests/pg/start.sh started in
# DATA_DIR (default /tmp/gavel-pg). Does nothing when it is not running.
#
# Usage: stop.sh [DATA_DIR]
set -euo pipefail

datadir=${1:-/tmp/gavel-pg}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[[ -n $bindir && -x $bindir/pg_ctl ]] || { echo "tests/pg/stop.sh: no PostgreSQL installed; nothing to stop" >&2; exit 0; }
[[ -f $datadir/postmaster.pid ]] || { echo "tests/pg/stop.sh: no cluster running in $datadir" >&2; exit 0; }
if [[ $(id -u) -eq 0 ]]; then
	runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >&2
else
	"$bindir/pg_ctl" -D "$datadir" -m fast -w stop >&2
fi
echo "tests/pg/stop.sh: stopped the cluster in $datadir" >&2
