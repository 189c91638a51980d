#!/usr/bin/env bash
# Shows that `make run` and `make demo` work when PostgreSQL trusts nobody (issue 11, done-when):
#   1. switch the server to password authentication: every `trust` in pg_hba.conf becomes
#      `peer` on the socket (`local` lines) and `scram-sha-256` over TCP (`host` lines), reload;
#   2. prove trust is gone (postgres over TCP without a password is refused);
#   3. `make run` in the background, wait for STACK READY, `make demo`;
#   4. whatever happens (failure, Ctrl-C): stop the stack, restore pg_hba.conf, reload.
#
# It changes the machine's PostgreSQL for every user while it runs (about a minute): new
# password-less connections of other programs fail meanwhile. Run it when nothing else does:
#   scripts/check-password-auth.sh     (as root, or a user with password-less sudo)
# Knobs: PGPORT/PGSOCKET/MACHINE_PG name the server (default the machine's 5432), and the
# launcher's own (GATEWAY_PORT, TODOS_DB, AMQP_URL, ...) are passed through to make run/demo.
set -euo pipefail
cd "$(dirname "$0")/.."

PGPORT=${PGPORT:-5432}
PGSOCKET=${PGSOCKET:-/var/run/postgresql}
READY_TIMEOUT=${READY_TIMEOUT:-600}
LOG=${STACK_LOG:-$(mktemp -t check-password-auth.XXXXXX.log)}
export PGPORT PGSOCKET
unset PGUSER PGPASSWORD DATABASE_URL  # the launcher's own way: the project role and its password

say() { printf '[check-password-auth] %s\n' "$*" >&2; }

# The superuser over the socket (peer) and pg_hba.conf's owner: runuser as root, else sudo.
if [ "$(id -u)" = 0 ]; then
  as_postgres=(runuser -u postgres --) as_root=()
elif sudo -n true 2>/dev/null; then
  as_postgres=(sudo -n -u postgres --) as_root=(sudo -n)
else
  say "run as root or with password-less sudo (the superuser is reached as the user postgres)"
  exit 2
fi
superuser() { (cd / && "${as_postgres[@]}" psql -h "$PGSOCKET" -p "$PGPORT" -X -tA "$@"); }

hba=$(superuser -c 'SHOW hba_file')
"${as_root[@]}" test -f "$hba" || { say "pg_hba.conf not found ($hba)"; exit 2; }
backup=$(mktemp -t pg_hba.conf.XXXXXX)
"${as_root[@]}" cp -p "$hba" "$backup"
stack_pid=""

restore() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$stack_pid" ] && kill -0 "$stack_pid" 2>/dev/null; then
    say "stopping the stack"
    kill -TERM -- "-$stack_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$stack_pid" 2>/dev/null || true
  fi
  if "${as_root[@]}" cp -p "$backup" "$hba" && superuser -c 'SELECT pg_reload_conf()' >/dev/null; then
    say "pg_hba.conf restored and reloaded"
    "${as_root[@]}" rm -f "$backup"
  else
    say "RESTORE FAILED: copy $backup to $hba by hand"
  fi
  exit "$status"
}
trap restore EXIT
trap 'exit 130' INT TERM

say "switching $hba to password authentication"
"${as_root[@]}" cat "$backup" |
  sed -E -e '/^[[:space:]]*local[[:space:]]/ s/(^|[[:space:]])trust([[:space:]]|$)/\1peer\2/' \
    -e '/^[[:space:]]*host/ s/(^|[[:space:]])trust([[:space:]]|$)/\1scram-sha-256\2/' |
  "${as_root[@]}" tee "$hba" >/dev/null
if "${as_root[@]}" cat "$hba" | grep -Ev '^[[:space:]]*(#|$)' | grep -qw trust; then
  say "trust is still in $hba"; exit 1
fi
superuser -c 'SELECT pg_reload_conf()' >/dev/null
sleep 1
if PGPASSWORD='' psql -h 127.0.0.1 -p "$PGPORT" -U postgres -w -d postgres -c 'SELECT 1' \
    >/dev/null 2>&1; then
  say "postgres still logs in over TCP without a password: the switch did not take"; exit 1
fi
say "trust is gone: postgres without a password is refused over TCP"

say "make run (log: $LOG)"
setsid make run >"$LOG" 2>&1 &
stack_pid=$!
deadline=$((SECONDS + READY_TIMEOUT))
until grep -q "STACK READY" "$LOG"; do
  if ! kill -0 "$stack_pid" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
    say "make run did not come up:"; tail -30 "$LOG" >&2; exit 1
  fi
  sleep 1
done
say "the stack is up after $SECONDS s; make demo"
make demo
say "OK: make run and make demo work with password authentication only"
