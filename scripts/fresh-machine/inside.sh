#!/usr/bin/env bash
# The fresh machine's side of scripts/fresh-machine.sh: runs as root in new mount, PID, UTS and
# network namespaces. Lays a throw-away overlay over the clean root filesystem, gives it what a
# real machine's network and image would (DNS, the CA bundle, the apt sources, registry
# settings, a user with sudo), then runs the README's commands as that user (newcomer.sh).
# Usage: inside.sh BASE RUN_DIR STEPS
set -euo pipefail
base=$1 run=$2 steps=$3
here=$(cd "$(dirname "$0")" && pwd)
say() { printf '[fresh] %s\n' "$*" >&2; }

mount --make-rprivate /
hostname fresh-debian
mkdir -p "$run/upper" "$run/work" "$run/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$run/root"
R=$run/root
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=1777,size=2g shm "$R/dev/shm"  # its own: chromium writes there
mount -t tmpfs -o mode=1777 tmp "$R/tmp"

# --- what the machine's network and image provide ----------------------------------------
echo fresh-debian >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 fresh-debian\n::1 localhost ip6-localhost\n' >"$R/etc/hosts"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# The CA bundle (an egress proxy's CA included) into the machine's own store.
if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
  cp -r /usr/local/share/ca-certificates/. "$R/usr/local/share/ca-certificates/"
fi
chroot "$R" update-ca-certificates >/dev/null 2>&1
# apt: the same sources (security and updates too) and acquire/proxy settings as this machine.
rm -f "$R/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$R/etc/apt/sources.list.d/" 2>/dev/null || true
[ -s /etc/apt/sources.list ] && cp /etc/apt/sources.list "$R/etc/apt/sources.list"
for f in /etc/apt/apt.conf.d/*; do
  grep -qiE '^\s*Acquire' "$f" 2>/dev/null && cp "$f" "$R/etc/apt/apt.conf.d/"
done
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$R/etc/pip.conf"
# The registries' settings of this machine's environment (CA files, index URLs, proxies): the
# ones that point at things on this machine's disk only (local wheel folders) stay behind.
{
  for v in SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS PIP_CERT \
    GIT_SSL_CAINFO PIP_INDEX_URL UV_INDEX_URL UV_DEFAULT_INDEX npm_config_registry \
    http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
  done
} >"$R/etc/profile.d/registries.sh"

# --- the newcomer: a user with password-less sudo, the repository to clone ------------------
chroot "$R" useradd --create-home --shell /bin/bash --groups sudo newcomer
printf 'newcomer ALL=(ALL) NOPASSWD:ALL\n' >"$R/etc/sudoers.d/newcomer"
chmod 440 "$R/etc/sudoers.d/newcomer"
cp -r "$run/origin.git" "$R/tmp/origin.git"
cp "$here/newcomer.sh" "$R/tmp/newcomer.sh"
chmod a+r "$R/tmp/newcomer.sh"
chroot "$R" chown -R newcomer: /tmp/origin.git  # git refuses a repository of another owner

say "inside: $(chroot "$R" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), as newcomer (sudo), steps: $steps"
exec chroot "$R" /usr/sbin/runuser -l newcomer -c "bash /tmp/newcomer.sh '$steps'"
