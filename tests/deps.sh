#!/usr/bin/env bash
# Installs, from Debian's packages, the services and libraries gavel's tests
# use: PostgreSQL (ledger and linkage suites), Redis (velocity's shared
# store), Chromium (the console's browser tests), and python3-grpcio,
# python3-protobuf and python3-cryptography (the Python detector). Only what is missing is installed; it needs root and
# apt-get, and otherwise says what to install and exits non-zero.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
# The console's browser tests drive Debian's headless Chromium.
command -v chromium >/dev/null || missing+=(chromium)
if ! /usr/bin/python3 -c 'import grpc, google.protobuf, cryptography' 2>/dev/null; then
	missing+=(python3-grpcio python3-protobuf python3-cryptography)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
	echo "tests/deps.sh: the tests need Debian's ${missing[*]}: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "tests/deps.sh: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${missing[@]}" >/dev/null
