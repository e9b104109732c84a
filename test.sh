#!/usr/bin/env bash
# Restores, builds and runs every test project; ends with one line "N passed, N failed[, N skipped]".
# Starts a throwaway PostgreSQL (initdb into a temp folder, pg_ctl on a free loopback port) when its
# server binaries are installed and RECALL_POSTGRES is not already set, and stops it on exit.
# Without PostgreSQL its tests are skipped loudly; with RECALL_REQUIRE_POSTGRES=1 that is a failure.
# The same for Chromium (/usr/bin/chromium or RECALL_CHROMIUM), which the dashboard's browser test
# drives through Playwright, with RECALL_REQUIRE_BROWSER=1.
set -uo pipefail
cd "$(dirname "$0")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

pg_tmp=""
pg_bin=""
pg_runas=()
cleanup() {
  if [ -n "$pg_tmp" ]; then
    "${pg_runas[@]}" "$pg_bin/pg_ctl" -D "$pg_tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_postgres() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    pg_bin=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
  else
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  fi
  [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] || return 1

  pg_tmp=$(mktemp -d "${TMPDIR:-/tmp}/recall-pg.XXXXXX")
  local account=""
  if [ "$(id -u)" = 0 ]; then
    # the server refuses to run as root: use the postgres account, or a throwaway one
    account=postgres
    id "$account" >/dev/null 2>&1 || { account=recall-pg; id "$account" >/dev/null 2>&1 || useradd --system --no-create-home "$account"; }
    chown "$account" "$pg_tmp"
    chmod 755 "$pg_tmp"
    pg_runas=(runuser -u "$account" --)
  fi
  local port=""
  for p in $(seq 55432 55632); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
  done
  [ -n "$port" ] || { echo "test.sh: no free port for PostgreSQL" >&2; return 1; }
  "${pg_runas[@]}" "$pg_bin/initdb" -D "$pg_tmp/data" -U postgres --auth=trust -E UTF8 --no-locale >"$pg_tmp/initdb.log" 2>&1 \
    || { cat "$pg_tmp/initdb.log" >&2; return 1; }
  "${pg_runas[@]}" "$pg_bin/pg_ctl" -D "$pg_tmp/data" -l "$pg_tmp/server.log" -w \
    -o "-p $port -h 127.0.0.1 -k $pg_tmp -c max_connections=200" start >/dev/null \
    || { cat "$pg_tmp/server.log" >&2; return 1; }
  "${pg_runas[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres recall_tests >/dev/null 2>&1 || true
  export RECALL_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=recall_tests"
  # the tests that restart the server run pg_ctl as the account that owns the data folder (RUNAS, empty when not root)
  export RECALL_POSTGRES_BIN="$pg_bin" RECALL_POSTGRES_DATA="$pg_tmp/data" RECALL_POSTGRES_PORT="$port" RECALL_POSTGRES_RUNAS="$account"
  echo "test.sh: PostgreSQL started on 127.0.0.1:$port"
}

if [ -z "${RECALL_POSTGRES:-}" ]; then
  if ! start_postgres; then
    if [ "${RECALL_REQUIRE_POSTGRES:-0}" = 1 ]; then
      echo "test.sh: PostgreSQL is required (RECALL_REQUIRE_POSTGRES=1) but could not be started" >&2
      echo "0 passed, 1 failed"
      exit 1
    fi
    echo "##########################################################################"
    echo "## PostgreSQL server binaries not found: PostgreSQL tests are SKIPPED.  ##"
    echo "## Install PostgreSQL (initdb, pg_ctl) or set RECALL_POSTGRES.          ##"
    echo "##########################################################################"
  fi
fi

if [ ! -x "${RECALL_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "${RECALL_REQUIRE_BROWSER:-0}" = 1 ]; then
    echo "test.sh: Chromium is required (RECALL_REQUIRE_BROWSER=1) but ${RECALL_CHROMIUM:-/usr/bin/chromium} is missing" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "##########################################################################"
  echo "## Chromium not found: the dashboard's browser test is SKIPPED.         ##"
  echo "## apt-get install chromium, or set RECALL_CHROMIUM to a Chromium.      ##"
  echo "##########################################################################"
fi

log=$(mktemp "${TMPDIR:-/tmp}/recall-test.XXXXXX")
dotnet test Recall.slnx -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0; assemblies=0
while IFS= read -r line; do
  f=$(sed -nE 's/.*Failed: *([0-9]+).*/\1/p' <<<"$line")
  p=$(sed -nE 's/.*Passed: *([0-9]+).*/\1/p' <<<"$line")
  s=$(sed -nE 's/.*Skipped: *([0-9]+).*/\1/p' <<<"$line")
  failed=$((failed + ${f:-0})); passed=$((passed + ${p:-0})); skipped=$((skipped + ${s:-0}))
  assemblies=$((assemblies + 1))
done < <(grep -E '^(Passed|Failed)! +- ' "$log")
rm -f "$log"

# A build error or a crashed test host runs no tests but must not look green.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$assemblies" -eq 0 ]; then failed=$((failed + 1)); fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
