#!/bin/sh
# udhcpc hook of the Homestack test guest: apply one NIC's lease (address, MTU,
# routes, DNS). eth0's router owns the default route; other NICs only add one
# when there is none yet. Option 121 (classless routes) wins over option 3.
set_default() {
  if [ "$interface" = eth0 ] || [ -z "$(ip -4 route show default)" ]; then
    ip route replace default via "$1" dev "$interface"
  fi
}

case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    [ "$1" = bound ] && ip -4 addr flush dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr replace "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$1" = 0.0.0.0/0 ]; then set_default "$2"
        else ip route replace "$1" via "$2" dev "$interface"; fi
        shift 2
      done
    elif [ -n "$router" ]; then
      set_default "${router%% *}"
    fi
    mkdir -p /run/resolv
    {
      [ -n "$domain" ] && echo "search $domain"
      for s in $dns; do echo "nameserver $s"; done
    } > "/run/resolv/$interface"
    cat /run/resolv/* > /etc/resolv.conf
    [ -n "$hostname" ] && echo "$hostname" > "/run/dhcp-hostname.$interface"
    echo "HOMESTACK-DHCP $interface $ip/$mask router=${router:-} mtu=${mtu:-} dns=${dns:-}" > /dev/console
    ;;
esac
exit 0
