#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ run on this machine and the databases exist.
# Starts them when installed and stopped; a no-op when all is there. Used by make run/test.
# Usage: scripts/infra.sh [database ...]   (default: todos budget)
# PGHOST/PGPORT/PGUSER and AMQP_HOST/AMQP_PORT name the servers; only the machine's own
# (127.0.0.1:5432 and 127.0.0.1:5672) are ever started here.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
AMQP_HOST=${AMQP_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}
databases=("$@")
[ ${#databases[@]} -gt 0 ] || databases=(todos budget)

say() { printf '[infra] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port name seconds
  for _ in $(seq 1 "$4"); do port_open "$1" "$2" && return 0; sleep 1; done
  say "$3 did not come up on $1:$2 within $4 s"; return 1
}

ensure_postgres() {
  port_open "$PGHOST" "$PGPORT" && return 0
  if [ "$PGHOST:$PGPORT" != 127.0.0.1:5432 ] && [ "$PGHOST:$PGPORT" != localhost:5432 ]; then
    say "PostgreSQL is not running on $PGHOST:$PGPORT (not the machine's default: not starting it)"
    exit 1
  elif command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    local version; version=$(ls /etc/postgresql | sort -V | tail -1)
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  else
    say "PostgreSQL is not running on $PGHOST:$PGPORT and is not installed here."
    say "Install it (apt-get install -y postgresql) or point DATABASE_URL at a server."
    exit 1
  fi
  wait_port "$PGHOST" "$PGPORT" PostgreSQL 60
}

ensure_rabbitmq() {
  port_open "$AMQP_HOST" "$AMQP_PORT" && return 0
  if [ "$AMQP_HOST:$AMQP_PORT" != 127.0.0.1:5672 ] && [ "$AMQP_HOST:$AMQP_PORT" != localhost:5672 ]; then
    say "RabbitMQ is not running on $AMQP_HOST:$AMQP_PORT (not the machine's default: not starting it)"
    exit 1
  elif command -v rabbitmq-server >/dev/null; then
    say "starting RabbitMQ"
    rabbitmq-server -detached
  else
    say "RabbitMQ is not running on 127.0.0.1:$AMQP_PORT and is not installed here."
    say "Install it (apt-get install -y rabbitmq-server) or point AMQP_URL at a broker."
    exit 1
  fi
  wait_port 127.0.0.1 "$AMQP_PORT" RabbitMQ 90
  # the AMQP port opens before the broker accepts logins; wait until it reports running
  if command -v rabbitmqctl >/dev/null; then
    timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
  fi
}

ensure_databases() {
  local db
  for db in "${databases[@]}"; do
    if ! psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      say "creating database $db"
      psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE \"$db\""
    fi
  done
}

ensure_postgres
ensure_rabbitmq
ensure_databases
