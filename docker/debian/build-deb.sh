#!/bin/sh
# docker/debian/build-deb.sh BUILD: what `make deb` runs once the programs
# are built in BUILD. Installs them into BUILD/deb/debian/schedfeed as a Debian system
# has them (PREFIX /usr, units in /lib/systemd/system), adds the
# documentation Debian policy asks for, computes Depends from the shared
# libraries the programs link (dpkg-shlibdeps) and builds
# BUILD/schedfeed_VERSION_ARCH.deb with dpkg-deb, owned by root. The
# version is the first of docker/debian/changelog. Prints the .deb's path.
set -eu
top=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
here=$top/docker/debian
build=${1:?usage: build-deb.sh BUILD}
case $build in /*) ;; *) build=$top/$build ;; esac

version=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
arch=$(dpkg --print-architecture)
work=$build/deb
# dpkg-shlibdeps wants the tree where debhelper would have it
root=$work/debian/schedfeed
rm -rf "$work"
mkdir -p "$root"

make -C "$top" -s install BUILD="$build" DESTDIR="$root" PREFIX=/usr \
    SYSTEMDUNITDIR=/lib/systemd/system >/dev/null
# debug symbols stay in the build; the package gets stripped programs
for f in "$root"/usr/bin/*; do
	strip --strip-unneeded --remove-section=.comment \
	    --remove-section=.note "$f"
done
# Debian's pages are compressed
find "$root/usr/share/man" -type f -exec gzip -9n {} +

doc=$root/usr/share/doc/schedfeed
install -d "$doc/examples"
install -m 644 "$here/copyright" "$doc/copyright"
gzip -9n < "$here/changelog" > "$doc/changelog.gz"
install -m 644 "$top"/pipelines/*.env.example "$doc/examples/"
install -m 644 "$top/docker/crontab" "$doc/examples/crontab"

# Depends: the packages that hold the libraries the programs link (the
# DEBIAN directory marks the package's tree for dpkg-shlibdeps)
install -d -m 755 "$root/DEBIAN"
printf 'Source: schedfeed\n\nPackage: schedfeed\nArchitecture: any\n' \
    > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O debian/schedfeed/usr/bin/* |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no Depends" >&2; exit 70; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
    -e "s|@DEPENDS@|$depends|" "$here/control.in" > "$root/DEBIAN/control"
install -m 755 "$here/postinst" "$here/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print |
    sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"

deb=$build/schedfeed_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
