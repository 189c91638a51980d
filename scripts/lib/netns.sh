# A network namespace of its own for the machine-level tests (sourced, bash): a veth pair,
# addresses from 198.18.0.0/15 (the benchmarking range: never a real network's), the way out
# through this machine (forwarding + MASQUERADE), nothing of this machine reachable from inside
# (INPUT dropped on the veth: its servers on 127.0.0.1 stay out of reach and out of the way).
#   netns_up NAME PREFIX   e.g. netns_up tb-fresh 198.18.19   (host .1, the namespace .2, /30)
#   netns_down             undoes all of it; safe to call twice, and after a partial netns_up
# Needs root, ip and iptables.

NETNS_NAME=
NETNS_VETH=
NETNS_NET=
# The machine's forwarding setting before the first of our namespaces (several may overlap):
# the last one down puts it back.
NETNS_FORWARD_STATE=/run/todos-budget-ip-forward
NETNS_RULES=()

netns_up() {
  local name=$1 prefix=$2
  NETNS_NAME=$name
  NETNS_VETH="v${name:0:12}"
  NETNS_NET="$prefix.0/30"
  # ip rejects names over 15 characters; the peer end is renamed to eth0 inside.
  ip netns add "$name"
  ip link add "$NETNS_VETH" type veth peer name "${NETNS_VETH}p"
  ip link set "${NETNS_VETH}p" netns "$name"
  ip addr add "$prefix.1/30" dev "$NETNS_VETH"
  ip link set "$NETNS_VETH" up
  ip -n "$name" link set lo up
  ip -n "$name" link set "${NETNS_VETH}p" name eth0
  ip -n "$name" addr add "$prefix.2/30" dev eth0
  ip -n "$name" link set eth0 up
  ip -n "$name" route add default via "$prefix.1"
  [ -e "$NETNS_FORWARD_STATE" ] || cat /proc/sys/net/ipv4/ip_forward >"$NETNS_FORWARD_STATE"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  _netns_rule -t nat -A POSTROUTING -s "$NETNS_NET" ! -o "$NETNS_VETH" -j MASQUERADE
  _netns_rule -A FORWARD -i "$NETNS_VETH" -j ACCEPT
  _netns_rule -A FORWARD -o "$NETNS_VETH" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  _netns_rule -I INPUT -i "$NETNS_VETH" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  _netns_rule -A INPUT -i "$NETNS_VETH" -j DROP
}

_netns_rule() { # iptables arguments with -A/-I; remembered for netns_down as -D
  iptables -w "$@" -m comment --comment "todos-budget $NETNS_NAME"
  NETNS_RULES+=("$(printf '%q ' "$@")")
}

netns_down() {
  local rule
  for rule in "${NETNS_RULES[@]}"; do
    eval "set -- $rule"
    local args=() a
    for a in "$@"; do case $a in -A | -I) args+=(-D) ;; *) args+=("$a") ;; esac; done
    iptables -w "${args[@]}" -m comment --comment "todos-budget $NETNS_NAME" 2>/dev/null || true
  done
  NETNS_RULES=()
  # Deleting the namespace deletes the veth pair too; the second is for a partial netns_up.
  [ -z "$NETNS_NAME" ] || ip netns del "$NETNS_NAME" 2>/dev/null || true
  [ -z "$NETNS_VETH" ] || ip link del "$NETNS_VETH" 2>/dev/null || true
  # Forwarding back as it was, unless another namespace of ours still needs it.
  if [ -e "$NETNS_FORWARD_STATE" ] && ! iptables -w -t nat -S POSTROUTING | grep -q 'todos-budget'; then
    cat "$NETNS_FORWARD_STATE" >/proc/sys/net/ipv4/ip_forward && rm -f "$NETNS_FORWARD_STATE"
  fi
  NETNS_NAME=
  NETNS_VETH=
  return 0
}
