#!/bin/sh
# Produces the get-gi outputs of tests/realworld/gi/tools/ with the real tools: Debian's
# drbd-utils (drbdadm, drbdadm-84, drbdmeta) on loop devices, no kernel module. Each node's
# meta-data is created by drbdmeta, given the UUIDs of a public handshake (SOURCES.md) with
# drbdmeta restore-md, and read back by `drbdadm -v get-gi all` exactly as the manifest item
# runs it (drbdsetup fails without the module, so drbdadm falls back to drbdmeta: both
# commands are echoed). Needs root (losetup). Run from anywhere; writes next to this script.
set -eu
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'for l in $(losetup -j "$work/disk.img" -O NAME -n 2>/dev/null); do losetup -d "$l"; done; rm -rf "$work"' EXIT

# node FORMAT NAME NODE_ID PEER_ID CURRENT BITMAP H1 H2 FLAGS OUTPUT
node() {
	format=$1 name=$2 id=$3 peer=$4 cur=$5 bm=$6 h1=$7 h2=$8 flags=$9 file=${10}
	rm -f "$work/disk.img"; truncate -s 64M "$work/disk.img"
	dev=$(losetup -f --show "$work/disk.img")
	if [ "$format" = v08 ]; then
		yes yes | drbdmeta --force 0 v08 "$dev" internal create-md >/dev/null 2>&1
		drbdmeta --force 0 v08 "$dev" internal dump-md 2>/dev/null |
			sed "s/^    0x0000000000000004; 0x0000000000000000; 0x0000000000000000; 0x0000000000000000;/    0x$cur; 0x$bm; 0x$h1; 0x$h2;/; s/^    flags 0x00000000;/    flags 0x$flags;/" >"$work/md.txt"
		yes yes | drbdmeta --force 0 v08 "$dev" internal restore-md "$work/md.txt" >/dev/null 2>&1
		cat >"$work/drbd.conf" <<CONF
resource r0 {
  device /dev/drbd0;
  disk $dev;
  meta-disk internal;
  on alpha { address 10.0.0.1:7789; }
  on beta  { address 10.0.0.2:7789; }
}
CONF
		adm=/lib/drbd/drbdadm-84
	else
		yes yes | drbdmeta --force 0 v09 "$dev" internal create-md 1 >/dev/null 2>&1
		drbdmeta --force 0 v09 "$dev" internal dump-md 2>/dev/null | awk -v id="$id" -v peer="$peer" \
			-v cur="$cur" -v bm="$bm" -v h1="$h1" -v h2="$h2" -v flags="$flags" '
			/^node-id / { print "node-id " id ";"; next }
			/^current-uuid / { print "current-uuid 0x" cur ";"; next }
			/^flags / && !seen_flags { print "flags 0x" flags ";"; seen_flags = 1; next }
			$0 ~ "^peer\\[" { in_peer = ($0 ~ "^peer\\[" peer "\\]") }
			in_peer && /bitmap-index/ { print "    bitmap-index 0;"; next }
			in_peer && /bitmap-uuid/ { print "    bitmap-uuid 0x" bm ";"; in_peer = 0; next }
			/^history-uuids/ { print; getline; sub(/0x0000000000000000; 0x0000000000000000;/, "0x" h1 "; 0x" h2 ";"); print; next }
			{ print }' >"$work/md.txt"
		yes yes | drbdmeta --force 0 v09 "$dev" internal restore-md "$work/md.txt" >/dev/null 2>&1
		cat >"$work/drbd.conf" <<CONF
resource r0 {
  device /dev/drbd0;
  disk $dev;
  meta-disk internal;
  on alpha { node-id 0; address 10.0.0.1:7789; }
  on beta  { node-id 1; address 10.0.0.2:7789; }
}
CONF
		adm=drbdadm
	fi
	# stdout only, as the bundle's commands/drbdadm-get-gi.txt; the loop device's name is
	# replaced by the disk a node would have.
	__DRBD_NODE__=$name "$adm" -c "$work/drbd.conf" -v get-gi all 2>/dev/null | sed "s#$dev#/dev/sdb1#" >"$out/$file"
	losetup -d "$dev"
}

# DRBD 9, LINBIT/drbd#109: beta (the logging node's peer) holds alpha's current as its bitmap.
node v09 alpha 0 1 F245EDB55E4884C8 0000000000000000 0CB3D8A1D4F0B6B2 FC83A145D1859A94 00000011 drbd9-sync-source.alpha.txt
node v09 beta 1 0 BCE93256922930CB F245EDB55E4884C9 7B495BE823DDD280 287B79D7459CA5F0 00000013 drbd9-sync-source.beta.txt
# DRBD 9, LINBIT/drbd-utils#11: the same current UUID on both (the peer's history is longer).
node v09 alpha 0 1 A0E9DACF6B43BCF2 F4806E4FA9B73588 C20D291DD4A0A31C 0000000000000000 00000011 drbd9-in-sync.alpha.txt
node v09 beta 1 0 A0E9DACF6B43BCF2 F4806E4FA9B73588 C20D291DD4A0A31C 7FD2384958ED0E0A 00000011 drbd9-in-sync.beta.txt
# DRBD 8.4, drbd-user 2011-01 #015463: both changed from the same bitmap UUID.
node v08 alpha 0 1 49615ABF1622FC55 643454BA1CA67140 5625CFAB3DDD24A2 EA5079D16F8C7807 00000011 drbd84-split-brain.alpha.txt
node v08 beta 1 0 6116B0558277E470 643454BA1CA67140 5625CFAB3DDD24A2 EA5079D16F8C7807 00000011 drbd84-split-brain.beta.txt
# DRBD 8.4, clustervision/trinity#668: no UUID in common.
node v08 alpha 0 1 BA1B9AD112DDE2F4 0000000000000000 0000000000000000 0000000000000000 00000011 drbd84-unrelated.alpha.txt
node v08 beta 1 0 9C5423A82B8C996B 65D36CC3D906E02B 65D26CC3D906E02B 0000000000000004 00000011 drbd84-unrelated.beta.txt
