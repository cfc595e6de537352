#!/usr/bin/env bash
# mkimage-busybox.sh OUT.tar
#
# Writes a tiny FROM-scratch style root filesystem tar built from Debian's
# busybox-static: /bin/busybox plus one symlink per applet, a passwd/group with
# root, app (uid 1000) and nobody, /tmp with mode 1777 and empty /proc /sys
# /dev mount points, and /var/www/index.html for httpd tests. /etc/hosts,
# /etc/hostname and /etc/resolv.conf are left out on purpose: a runtime
# bind-mounts its own.
#
# The output is byte-for-byte reproducible for a given busybox binary: entries
# are sorted, owners are numeric and every mtime is the same fixed instant.
set -euo pipefail

out=${1:?usage: mkimage-busybox.sh OUT.tar}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

# SOURCE_DATE_EPOCH pins another instant; 2024-01-01T00:00:00Z otherwise.
epoch=${SOURCE_DATE_EPOCH:-1704067200}

if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
	"$here/deps.sh" busybox-static
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-busybox.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT
umask 022

mkdir -p "$stage"/{bin,dev,etc,proc,sys,tmp,root,home/app,var/www}
install -m 0755 /bin/busybox "$stage/bin/busybox"

# Every applet the binary provides, so tests can use grep/wc/stat/... without
# caring which subset was picked.
while read -r applet; do
	[[ -z $applet || $applet == busybox ]] && continue
	ln -s busybox "$stage/bin/$applet"
done < <(/bin/busybox --list | LC_ALL=C sort -u)

cat >"$stage/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat >"$stage/etc/group" <<'GR'
root:x:0:
app:x:1000:
nogroup:x:65534:
GR
echo '<html><body>berth busybox test image</body></html>' >"$stage/var/www/index.html"

chown -R 0:0 "$stage"
chown 1000:1000 "$stage/home/app"
chmod 0755 "$stage"/{bin,dev,etc,proc,sys,home,home/app,var,var/www}
chmod 0700 "$stage/root"
chmod 1777 "$stage/tmp"
chmod 0644 "$stage/etc/passwd" "$stage/etc/group" "$stage/var/www/index.html"

(cd "$stage" && LC_ALL=C tar --create --file="$out.tmp.$$" \
	--sort=name --format=gnu --numeric-owner --mtime="@$epoch" \
	bin dev etc home proc root sys tmp var)
mv -f "$out.tmp.$$" "$out"
