#!/usr/bin/env bash
# The web app's tests on PostgreSQL: a throwaway cluster (Unix socket only, trust auth, C
# collation so text sorts byte-wise as in SQLite), DERMASIM_TEST_POSTGRES pointing at it (each
# test then makes and drops a schema of its own), the web crate's test targets, then the cluster
# is stopped and removed. Installs Debian's postgresql when no server binaries are found.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

# initdb refuses to run as root: as root the cluster belongs to the `postgres` user.
as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

root="$PWD/target/pg"
rm -rf "$root"
mkdir -p "$root"
if [ "$(id -u)" = 0 ]; then
  chown postgres "$root"
  # The server user must reach the folder; a checkout under a private home cannot.
  if ! runuser -u postgres -- test -w "$root"; then
    rm -rf "$root"
    root=$(mktemp -d /tmp/dermasim-pg.XXXXXX)
    chown postgres "$root"
  fi
fi

port=55432
as_server "$bin/initdb" -D "$root/data" -U dermasim --auth=trust --locale=C --encoding=UTF8 >"$root/initdb.log"
stop() {
  as_server "$bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null || true
  rm -rf "$root"
}
trap stop EXIT
# fsync off: a throwaway cluster; the tests check behaviour, not durability.
as_server "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w \
  -o "-p $port -k $root -c listen_addresses='' -c max_connections=300 -c fsync=off" start >/dev/null

export DERMASIM_TEST_POSTGRES="postgresql://dermasim@/postgres?host=$root&port=$port"
start=$(date +%s)
# The web crate's test targets under `--workspace`, so features resolve as in the main
# `cargo test --workspace` and its build is reused (`-p dermasim-web` resolves them on its own
# and recompiles arrow and parquet). Its unit tests need no database and ran there already.
cargo test --workspace --locked --test consent_photos --test records --test router --test workspace
echo "dermasim-web tests on PostgreSQL ($("$bin/postgres" --version)): passed in $(( $(date +%s) - start )) s"
