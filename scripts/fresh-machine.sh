#!/usr/bin/env bash
# `make test-fresh-machine`: the README's commands on a clean Debian 12, as a newcomer runs them.
#
# A minimal Debian 12 root filesystem (debootstrap --variant=minbase, plus only python3, git,
# make, curl, sudo and ca-certificates: the README's prerequisites) is cached in
# .cache/fresh-machine/ (git-ignored); every run starts from a pristine copy of it (an overlay
# whose writable layer is thrown away). Inside, as a non-root user with password-less sudo (how
# cloud images come), the committed HEAD is cloned and the README's commands run, each timed:
# `make run` until STACK READY, `make demo`, Ctrl-C, then `make test` (FRESH_STEPS picks:
# default "run demo test"; CI runs "run demo"; "test-k" is `make -k test`, every tier even after
# a failure). FRESH_REV clones another commit than HEAD (to see a fix's test fail before it).
#
# Isolated: its own network, mount, PID and UTS namespaces (198.18.19.0/30; this machine's
# servers are out of reach), the package registries reached through this machine with its CA
# bundle and registry settings carried in, as a real machine's network would provide them. At
# the end, whatever happens, every process in it is killed and the namespaces, mounts, firewall
# rules and the run's files are removed (the logs are kept in .cache/fresh-machine/last-run/).
# Needs root (re-runs itself with sudo), debootstrap and iptables (installed when missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || exec sudo -n --preserve-env=FRESH_STEPS,FRESH_NET,FRESH_REV "$0" "$@"

STEPS=${FRESH_STEPS:-run demo test}
NET=${FRESH_NET:-198.18.19}
CACHE=$ROOT/.cache/fresh-machine
PACKAGES=python3,git,make,curl,sudo,ca-certificates
SUITE=bookworm
# This machine's Debian mirror (the first deb URI of its apt sources), as its apt uses it.
MIRROR=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  sed -nE 's/^URIs: *([^ ]+).*/\1/p; s/^deb +(\[[^]]*\] +)?([^ ]+) .*/\2/p' | grep -v security |
  sed -n 1p || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

say() { printf '[fresh] %s\n' "$*" >&2; }

for tool in debootstrap:debootstrap iptables:iptables; do
  command -v "${tool%%:*}" >/dev/null || {
    say "installing ${tool#*:}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool#*:}" >/dev/null
  }
done

# --- the clean root filesystem, made once -------------------------------------------------
base=$CACHE/base-$SUITE-$(printf '%s %s' "$PACKAGES" "$MIRROR" | sha256sum | cut -c1-12)
if [ ! -e "$base/.complete" ]; then
  say "debootstrap $SUITE ($PACKAGES) from $MIRROR into $base"
  started=$SECONDS
  rm -rf "$base.tmp"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$base.tmp" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$base" && mv "$base.tmp" "$base" && touch "$base/.complete"
  say "debootstrap: $((SECONDS - started)) s"
fi

# --- isolation, undone whatever happens ---------------------------------------------------
run=$(mktemp -d "$CACHE/run.XXXXXX")
inner=
# shellcheck source=scripts/lib/netns.sh
. "$ROOT/scripts/lib/netns.sh"
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  set +e  # every step of the clean-up runs, whatever one of them says
  # The namespace's first process is unshare's child: killing unshare (--kill-child) ends it,
  # and with it every process of the PID namespace; its mounts go with its mount namespace.
  if [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null; then
    kill -TERM "$inner" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$inner" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$inner" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  netns_down
  if [ -d "$run/upper/home/newcomer" ]; then
    rm -rf "$CACHE/last-run" && mkdir -p "$CACHE/last-run"
    cp "$run"/upper/home/newcomer/*.log "$CACHE/last-run/"
  fi
  rm -rf "$run"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_up "tb-fresh-$$" "$NET"
# The repository to clone: that commit alone as `main` of a bare repository.
rev=$(git -C "$ROOT" rev-parse "${FRESH_REV:-HEAD}^{commit}")
git init -q --bare "$run/origin.git"
git -C "$ROOT" push -q "$run/origin.git" "$rev:refs/heads/main"
git -C "$run/origin.git" symbolic-ref HEAD refs/heads/main
say "cloning $rev"
say "network namespace tb-fresh-$$ ($NETNS_NET), root filesystem: a fresh overlay of $base"

ip netns exec "tb-fresh-$$" unshare --mount --pid --uts --ipc --fork --kill-child -- \
  bash "$ROOT/scripts/fresh-machine/inside.sh" "$base" "$run" "$STEPS" &
inner=$!
wait "$inner"
