#!/usr/bin/env bash
# Emulated gigabit LAN in network namespaces, for cluster benchmarks on one machine.
#
#   bench/lan/netns.sh up [HOSTS]   # HOSTS namespaces herd-n0..herd-n{HOSTS-1} (default 4) on a switch
#   bench/lan/netns.sh down         # removes every namespace this script made
#   bench/lan/netns.sh status
#
# Layout: namespace herd-sw holds a bridge (the switch). Host i is namespace herd-n$i with interface eth0,
# address 10.77.0.(i+1)/24, joined to the switch by a veth pair (port p$i in herd-sw). Every link is shaped to
# 1 Gbit/s in both directions with a tbf qdisc (host egress on eth0, switch egress on p$i). Nothing is created in
# the caller's namespace. Latency is not added here: the netem qdisc is missing on these machines
# ("tc qdisc add ... netem" fails with "Specified qdisc kind is unknown"), so run.sh puts a delaying relay
# (src/test/java/dev/herd/bench/DelayRelay.java) in front of each worker instead.
set -euo pipefail

PREFIX=${LAN_PREFIX:-herd-n}   # another prefix (and LAN_SWITCH) keeps runs of several users apart
SWITCH=${LAN_SWITCH:-herd-sw}
SUBNET=10.77.0
RATE=${LAN_RATE:-1gbit}
# tbf: burst must hold at least rate/HZ; 128 kB is plenty at 1 Gbit/s. Queue limit: 5 ms of packets.
TBF=(tbf rate "$RATE" burst 128kb latency 5ms)

ns() { ip netns exec "$@"; }
exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

down() {
  # deleting a namespace deletes its interfaces, and a veth pair dies with either end
  for n in $(ip netns list | awk '{print $1}' | grep -E "^(${PREFIX}[0-9]+|${SWITCH})$" || true); do
    ip netns del "$n"
  done
}

up() {
  local hosts=${1:-4}
  down # idempotent: always start from a clean slate
  trap 'echo "netns.sh: setup failed, cleaning up" >&2; down' ERR
  ip netns add "$SWITCH"
  ns "$SWITCH" ip link set lo up
  ns "$SWITCH" ip link add br0 type bridge
  ns "$SWITCH" ip link set br0 up
  for ((i = 0; i < hosts; i++)); do
    local h="$PREFIX$i"
    ip netns add "$h"
    ns "$h" ip link set lo up
    # created inside the switch namespace, the host end moved straight into its namespace
    ip -n "$SWITCH" link add "p$i" type veth peer name eth0 netns "$h"
    ip -n "$SWITCH" link set "p$i" master br0 up
    ns "$h" ip addr add "$SUBNET.$((i + 1))/24" dev eth0
    ns "$h" ip link set eth0 up
    ns "$h" tc qdisc replace dev eth0 root "${TBF[@]}"      # host -> switch
    ns "$SWITCH" tc qdisc replace dev "p$i" root "${TBF[@]}" # switch -> host
  done
  trap - ERR
  echo "LAN up: $hosts hosts ${PREFIX}0..${PREFIX}$((hosts - 1)) at $SUBNET.1..$SUBNET.$hosts, links $RATE" >&2
}

status() {
  for n in $(ip netns list | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+$" | sort -V || true); do
    echo "$n: $(ns "$n" ip -4 -o addr show dev eth0 | awk '{print $4}') $(ns "$n" tc qdisc show dev eth0 | head -1)"
  done
}

case "${1:-}" in
  up) up "${2:-4}" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up [HOSTS] | down | status" >&2; exit 2 ;;
esac
