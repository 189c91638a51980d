#!/usr/bin/env bash
# `make test-images`: the todos, budget and web images built from their Dockerfiles and run as
# Kubernetes runs them (non-root user, read-only root filesystem, every capability dropped)
# against a real PostgreSQL and RabbitMQ with password logins: the migrations, both APIs, the
# relay, the consumer, the web image and the gateway in front; then the story (veto, credit,
# complete, debit) through the gateway, and the image sizes.
#
# No container registry is reachable here, so the base images are made from Debian's packages
# (debootstrap, `docker import`; cached in .cache/images/, git-ignored) and uv's image holds the
# pinned uv from PyPI (make tools): the Dockerfiles take them as build arguments, and users keep
# the official defaults. Docker Engine is Debian's docker.io (installed when missing), its
# daemon started here with its own state and its bridges on 198.18.21-23.x, inside a network,
# mount and PID namespace of its own (198.18.20.0/30); PostgreSQL and RabbitMQ are private
# servers in that namespace. At the end, whatever happens, all of it is stopped and removed.
# Needs root (re-runs itself with sudo).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || exec sudo -n "$0" "$@"
CACHE=$ROOT/.cache/images
NET=${IMAGES_NET:-198.18.20}
say() { printf '[images] %s\n' "$*" >&2; }

for tool in debootstrap:debootstrap iptables:iptables dockerd:docker.io \
  pg_ctlcluster:postgresql rabbitmq-server:rabbitmq-server; do
  PATH=$PATH:/usr/sbin:/sbin command -v "${tool%%:*}" >/dev/null || {
    say "installing ${tool#*:}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool#*:}" >/dev/null
  }
done
make -C "$ROOT" --no-print-directory -s install node >/dev/null  # uv, kubectl, Node (PyPI), the venv

mkdir -p "$CACHE"
run=$(mktemp -d "$CACHE/run.XXXXXX")
chmod 755 "$run"
inner=
# shellcheck source=scripts/lib/netns.sh
. "$ROOT/scripts/lib/netns.sh"
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null; then
    kill -TERM "$inner"
    for _ in $(seq 1 30); do kill -0 "$inner" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$inner" 2>/dev/null
  fi
  wait 2>/dev/null
  netns_down
  rm -rf "$run"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_up "tb-img-$$" "$NET"
say "network namespace tb-img-$$ ($NETNS_NET)"
# nsenter, not `ip netns exec`: that remounts /sys and hides the cgroup mounts dockerd needs.
nsenter --net="/run/netns/tb-img-$$" unshare --mount --pid --fork --kill-child --mount-proc -- \
  bash "$ROOT/scripts/images/inside.sh" "$run" &
inner=$!
wait "$inner"
