#!/usr/bin/env bash
# Installs the Debian packages listed in tools/system-packages.txt that are not installed yet.
# Needs root (apt-get); without it, says loudly which packages are missing and fails.
set -euo pipefail
list="$(dirname "$0")/system-packages.txt"
missing=()
while read -r name _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" || missing+=("$name")
done < "$list"
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "system packages missing: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
