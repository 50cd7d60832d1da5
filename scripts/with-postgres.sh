#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (initdb + pg_ctl in a temporary directory, as an
# unprivileged user), exports PUHUI_TEST_POSTGRES_URL, runs the given command, stops the cluster.
# Under CI=true a cluster that cannot start fails the run: the PostgreSQL tier is never skipped.
set -uo pipefail

bindir=""
if command -v initdb >/dev/null 2>&1; then bindir=$(dirname "$(readlink -f "$(command -v initdb)")"); fi
if [ -z "$bindir" ]; then bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1); fi

fail_or_skip() {
  if [ "${CI:-}" = "true" ] || [ "${PUHUI_REQUIRE_POSTGRES:-}" = "1" ]; then
    echo "FATAL: PostgreSQL could not start: $1" >&2
    exit 1
  fi
  echo "WARNING: PostgreSQL could not start ($1); the PostgreSQL tier will be reported as skipped" >&2
  exec "$@"
}

[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || fail_or_skip "no initdb found (apt-get install postgresql)"

tmp=$(mktemp -d /tmp/puhui-pg.XXXXXX)
chmod 755 "$tmp"
run_as=()
if [ "$(id -u)" = "0" ]; then
  pguser=postgres
  id -u "$pguser" >/dev/null 2>&1 || pguser=nobody
  chown "$pguser" "$tmp"
  run_as=(runuser -u "$pguser" --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

cleanup() {
  "${run_as[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if ! "${run_as[@]}" "$bindir/initdb" -D "$tmp/data" -U puhui --auth=trust -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1; then
  cat "$tmp/initdb.log" >&2; fail_or_skip "initdb failed"
fi
if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
     -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" start >/dev/null; then
  cat "$tmp/server.log" >&2; fail_or_skip "pg_ctl start failed"
fi
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U puhui puhui_test || fail_or_skip "createdb failed"
version=$("$bindir/postgres" --version)
echo "PostgreSQL started for the integration tier: $version on 127.0.0.1:$port"
export PUHUI_TEST_POSTGRES_URL="postgresql://puhui@127.0.0.1:$port/puhui_test"
"$@"
status=$?
exit $status
