#!/bin/sh
# test-images.sh builds berth's test image, berth-test/busybox:latest, from the
# host's static busybox (Debian: busybox-static) with `docker import`: no
# registry is needed. It does nothing when the image exists; pass -f to
# rebuild it. The tests build the same image themselves when it is missing
# (internal/dockertest).
set -eu

image=berth-test/busybox:latest
busybox=${BUSYBOX:-/bin/busybox}
applets="sh ash sleep echo cat true false tail head dd env kill printf ls rm
mkdir seq yes wc grep sed tr test [ id ps touch sync"

force=0
if [ "${1:-}" = "-f" ]; then
	force=1
fi

if [ "$force" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
	echo "$image exists"
	exit 0
fi

if [ ! -x "$busybox" ]; then
	echo "test-images.sh: $busybox missing (apt-get install busybox-static)" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for a in $applets; do
	ln -s busybox "$root/bin/$a"
done

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
	docker import \
		-c 'ENV PATH=/bin' \
		-c 'CMD ["/bin/sh"]' \
		-m 'berth test image: static busybox' \
		- "$image" >/dev/null
echo "$image built"
