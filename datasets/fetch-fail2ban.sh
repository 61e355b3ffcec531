#!/usr/bin/env bash
# Downloads Debian's fail2ban package and unpacks it (nothing is installed) so its ~90 real
# sample logs (GPL-2+) are at $ICEGATE_CACHE/fail2ban/usr/lib/python3/dist-packages/fail2ban/tests/files/logs.
set -euo pipefail
cache="${ICEGATE_CACHE:-$HOME/.cache/icegate}"
dest="$cache/fail2ban"
logs="$dest/usr/lib/python3/dist-packages/fail2ban/tests/files/logs"
if [ -d "$logs" ]; then
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download fail2ban >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get download fail2ban >/dev/null
fi
mkdir -p "$dest"
dpkg -x fail2ban_*.deb "$dest"
echo "fail2ban samples: $logs ($(find "$logs" -type f | wc -l) files)"
