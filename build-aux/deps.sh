#!/bin/sh
# Installs what Sallyport needs to build and test, only when something is
# missing: Debian/Ubuntu with apt-get, FreeBSD with pkg.  Also creates the
# unprivileged users the daemons drop to when the suite runs as root.
set -e
DEBS="build-essential autoconf pkg-config clang libssl-dev libuv1-dev liblmdb-dev
libyaml-dev libxml2-dev libpcre2-dev libldns-dev libidn2-dev libcrypt-dev libedit-dev
openssl ca-certificates swaks libnet-ssleay-perl libio-socket-ssl-perl python3 ldnsutils
lmdb-utils perl"
PKGS="autoconf pkgconf openssl libuv lmdb libyaml libxml2 pcre2 ldns libidn2 libedit
swaks p5-IO-Socket-SSL ca_root_nss python3 perl5"

if command -v dpkg-query >/dev/null 2>&1; then
	missing=""
	for p in $DEBS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "deps: installing$missing"
		SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
	fi
elif command -v pkg >/dev/null 2>&1; then
	missing=""
	for p in $PKGS; do pkg info -e "$p" || missing="$missing $p"; done
	[ -z "$missing" ] || { echo "deps: installing$missing"; pkg install -y $missing; }
else
	echo "deps: unknown system; install by hand: $DEBS" >&2
fi

# Users for privilege separation (DESIGN.md section 2).
if [ "$(id -u)" = 0 ]; then
	for u in sallyport-net sallyport-queue; do
		id "$u" >/dev/null 2>&1 && continue
		if command -v useradd >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$u"
		elif command -v pw >/dev/null 2>&1; then
			pw useradd "$u" -d /nonexistent -s /usr/sbin/nologin
		fi
	done
	getent group sallyport-admin >/dev/null 2>&1 || groupadd --system sallyport-admin 2>/dev/null ||
		pw groupadd sallyport-admin 2>/dev/null || true
fi
exit 0
