#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ run and the databases exist. Used by make run/test/infra.
# Usage: scripts/infra.sh [--recreate] [database ...]   (default: todos budget)
#
# Who owns the database server decides what this script may do (the same rules in
# deploy/local/stack.py, which builds the services' URLs):
#   * DATABASE_URL given (the server and credentials you chose): nothing is installed, started,
#     created or altered; the script only checks that it can log in and that the databases exist.
#   * PGUSER/PGPASSWORD given (PGHOST/PGPORT name the server): that role creates the missing
#     databases and nothing else (the fault suite's private servers are driven this way).
#   * nothing given: the machine's own server (127.0.0.1:5432). PostgreSQL and RabbitMQ are
#     installed with apt-get when missing and started when stopped; the local superuser (over
#     trust when it is allowed, else `runuser -u postgres` / `sudo -u postgres` over the socket)
#     creates the project role $PROJECT_DB_ROLE WITH A PASSWORD (kept in $DB_PASSWORD_FILE,
#     mode 600, outside the checkout) and the databases owned by it; the services then log in
#     with that password over TCP.
# AMQP_URL (or AMQP_HOST/AMQP_PORT) names the broker; only the machine's own is ever started.
# --recreate drops and re-creates the databases (the end-to-end suite's fresh stacks).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# One password per machine and user, not per checkout: two checkouts must not reset it in turn.
DB_PASSWORD_FILE=${DB_PASSWORD_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/todos-budget/db-password}
PROJECT_DB_ROLE=${PROJECT_DB_ROLE:-todos_budget}
# The machine's own servers: only these are ever installed or started (overridable for tests).
MACHINE_PG=${MACHINE_PG:-127.0.0.1:5432}
MACHINE_AMQP=${MACHINE_AMQP:-127.0.0.1:5672}
# Where the servers' programs are looked for: Debian puts RabbitMQ's in /usr/sbin, which a
# user's PATH lacks (overridable for tests).
SERVER_PATH=${SERVER_PATH:-$PATH:/usr/sbin:/sbin}
# Where the superuser's socket is (runuser/sudo log in over it, with peer authentication).
PGSOCKET=${PGSOCKET:-/var/run/postgresql}
recreate=0
if [ "${1:-}" = --recreate ]; then recreate=1; shift; fi
databases=("$@")
[ ${#databases[@]} -gt 0 ] || databases=(todos budget)

say() { printf '[infra] %s\n' "$*" >&2; }
die() { say "$@"; exit 1; }

# --- which server, and who owns it -------------------------------------------------------
url_part() { # url field: the host, port, user, password or database of a postgres/amqp URL
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
value = {"host": u.hostname, "port": u.port, "user": u.username, "password": u.password,
         "database": u.path.lstrip("/")}[sys.argv[2]]
print(unquote(str(value)) if value is not None else "")
PY
}

if [ -n "${DATABASE_URL:-}" ]; then
  db_mode=given-url
  PGHOST=$(url_part "$DATABASE_URL" host); PGPORT=$(url_part "$DATABASE_URL" port)
  PGUSER=$(url_part "$DATABASE_URL" user); PGPASSWORD=$(url_part "$DATABASE_URL" password)
  PGHOST=${PGHOST:-127.0.0.1}; PGPORT=${PGPORT:-5432}
  export PGPASSWORD
elif [ -n "${PGUSER:-}${PGPASSWORD:-}" ]; then
  db_mode=given-pg
else
  db_mode=managed
fi
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
if [ -n "${AMQP_URL:-}" ] && [ -z "${AMQP_HOST:-}" ]; then
  AMQP_HOST=$(url_part "$AMQP_URL" host); AMQP_PORT=$(url_part "$AMQP_URL" port)
fi
AMQP_HOST=${AMQP_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}

is_machine() { # host port machine-address
  local host=${1/#localhost/127.0.0.1}
  [ "$host:$2" = "${3/#localhost/127.0.0.1}" ]
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port name seconds
  for _ in $(seq 1 "$4"); do port_open "$1" "$2" && return 0; sleep 1; done
  say "$3 did not come up on $1:$2 within $4 s"; return 1
}

# --- packages and services: as root, or with sudo ----------------------------------------
as_root() { # command...: as root (sudo when not root); the fix is printed when neither works
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "\`$*\` needs root: run it once with sudo, then retry"
  fi
}

apt_updated=0
apt_install() { # package...
  command -v apt-get >/dev/null || die "apt-get not found: install $* with your package manager"
  if [ "$(id -u)" != 0 ] && ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
    die "installing $* needs root: run \`sudo apt-get install -y $*\` once, then retry"
  fi
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "installing $* (apt-get install -y $*; the first time takes a minute or two)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# The server's own binary too: removing the server package leaves pg_ctlcluster and the
# cluster's configuration behind. PG_LIB_DIR: where Debian puts the versions (tests move it).
postgres_installed() { command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] &&
  [ -n "$(ls /etc/postgresql 2>/dev/null)" ] &&
  compgen -G "${PG_LIB_DIR:-/usr/lib/postgresql}/*/bin/postgres" >/dev/null; }

ensure_postgres() {
  if [ $db_mode = given-url ]; then
    port_open "$PGHOST" "$PGPORT" || die "PostgreSQL is not reachable on $PGHOST:$PGPORT" \
      "(DATABASE_URL names it: start it, or unset DATABASE_URL to use this machine's)"
    return 0
  fi
  port_open "$PGHOST" "$PGPORT" && return 0
  is_machine "$PGHOST" "$PGPORT" "$MACHINE_PG" ||
    die "PostgreSQL is not running on $PGHOST:$PGPORT (not the machine's default: not starting it)"
  postgres_installed || apt_install postgresql
  local version; version=$(ls /etc/postgresql | sort -V | tail -1)
  if ! port_open "$PGHOST" "$PGPORT"; then
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      die "PostgreSQL $version did not start: see /var/log/postgresql/"
  fi
  wait_port "$PGHOST" "$PGPORT" PostgreSQL 60
}

ensure_rabbitmq() {
  port_open "$AMQP_HOST" "$AMQP_PORT" && return 0
  is_machine "$AMQP_HOST" "$AMQP_PORT" "$MACHINE_AMQP" ||
    die "RabbitMQ is not running on $AMQP_HOST:$AMQP_PORT (not the machine's default: not starting it)"
  # Started as root (it drops to its own user); its programs are in SERVER_PATH's /usr/sbin.
  PATH=$SERVER_PATH command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  if ! port_open "$AMQP_HOST" "$AMQP_PORT"; then
    say "starting RabbitMQ"
    as_root env PATH="$SERVER_PATH" rabbitmq-server -detached
  fi
  wait_port 127.0.0.1 "$AMQP_PORT" RabbitMQ 90
  # the AMQP port opens before the broker accepts logins; wait until it reports running
  if PATH=$SERVER_PATH command -v rabbitmqctl >/dev/null; then
    (as_root timeout 60 env PATH="$SERVER_PATH" rabbitmqctl await_startup) >/dev/null 2>&1 || true
  fi
}

# --- the local superuser (managed mode only) ---------------------------------------------
superuser=()
find_superuser() {
  if psql -h "$PGHOST" -p "$PGPORT" -U postgres -w -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
    superuser=(psql -h "$PGHOST" -p "$PGPORT" -U postgres -w)
  elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    superuser=(runuser -u postgres -- psql -h "$PGSOCKET" -p "$PGPORT")  # the socket, peer authentication
  elif command -v sudo >/dev/null && sudo -n -u postgres true 2>/dev/null; then
    superuser=(sudo -n -u postgres psql -h "$PGSOCKET" -p "$PGPORT")
  else
    die "cannot act as PostgreSQL's superuser (no trust, not root, no sudo):" \
      "set DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:PORT/todos to a role that" \
      "owns the databases todos and budget, or run once as root"
  fi
  # runuser/sudo leave us in a directory postgres may not read: psql warns, so start in /
  (cd / && "${superuser[@]}" -d postgres -qtAc 'SELECT 1' >/dev/null) ||
    die "the superuser cannot log in (${superuser[*]})"
}

as_superuser() { # database, SQL on stdin (psql variables: role, password, db)
  local db=$1; shift
  (cd / && "${superuser[@]}" -d "$db" -v ON_ERROR_STOP=1 -q -X "$@" -f -)
}

db_password() { # the project role's password, made once
  local file=$DB_PASSWORD_FILE
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$file")
  fi
  cat "$file"
}

ensure_role() {
  local password; password=$(db_password)
  as_superuser postgres -v role="$PROJECT_DB_ROLE" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SQL
}

own_database() { # db: create it owned by the project role, or hand an existing one over
  local db=$1
  if [ $recreate = 1 ]; then
    as_superuser postgres -v db="$db" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SQL
  fi
  as_superuser postgres -v db="$db" -v role="$PROJECT_DB_ROLE" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'role') FROM pg_database
 WHERE datname = :'db' AND pg_get_userbyid(datdba) <> :'role' \gexec
SQL
  # Tables made earlier by another role (a checkout from before the project role): the
  # migrations must be able to alter them. Identity sequences follow their table.
  as_superuser "$db" -v role="$PROJECT_DB_ROLE" <<'SQL'
SELECT format('ALTER TABLE %s OWNER TO %I', c.oid::regclass, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
   AND pg_get_userbyid(c.relowner) <> :'role' \gexec
SQL
}

# --- the databases -----------------------------------------------------------------------
ensure_databases() {
  local db
  case $db_mode in
  managed)
    find_superuser
    ensure_role
    for db in "${databases[@]}"; do own_database "$db"; done
    # Prove the password login the services will use (fails fast when pg_hba refuses it).
    PGPASSWORD=$(db_password) psql -h "$PGHOST" -p "$PGPORT" -U "$PROJECT_DB_ROLE" -w \
      -d "${databases[0]}" -tAc 'SELECT 1' >/dev/null ||
      die "$PROJECT_DB_ROLE cannot log in with its password on $PGHOST:$PGPORT: pg_hba.conf" \
        "must allow 'host all all 127.0.0.1/32 scram-sha-256' (Debian's default does)"
    ;;
  given-pg)
    for db in "${databases[@]}"; do
      if [ $recreate = 1 ]; then
        psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc \
          "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
      fi
      if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc \
          "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
        say "creating database $db"
        psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE \"$db\""
      fi
    done
    ;;
  given-url)
    # Yours: logged into, never changed. Each database must exist already.
    [ $recreate = 0 ] || die "--recreate refused: DATABASE_URL names a server this script does not manage"
    for db in "${databases[@]}"; do
      psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -w -d "$db" -tAc 'SELECT 1' >/dev/null ||
        die "cannot log into database $db on $PGHOST:$PGPORT as $PGUSER (DATABASE_URL):" \
          "create it (CREATE DATABASE $db OWNER $PGUSER) or fix the credentials"
    done
    ;;
  esac
}

command -v psql >/dev/null || [ $db_mode = managed ] || apt_install postgresql-client
ensure_postgres
ensure_rabbitmq
ensure_databases
