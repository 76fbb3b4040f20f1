#!/usr/bin/env bash
# Installs the Debian 12 packages Sluice needs; idempotent (installs only what
# is missing, so a second run does not touch the network).
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also the peers the tests start (Samba,
#                                    Prometheus, Modbus tools, tshark, ...)
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer (scripts/fuzz-campaign.sh)
set -euo pipefail

build=(
  build-essential meson ninja-build pkg-config
  libdpdk-dev dpdk-dev libhyperscan-dev libndpi-dev libndpi-bin
  libclamav-dev clamav clamav-testfiles prometheus-cpp-dev
  libyaml-cpp-dev libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libpcre2-dev libpcap-dev libmagic-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev
  python3 python3-scapy python3-yaml
)
test=(
  tshark tcpreplay prometheus samba smbclient python3-impacket python3-pymodbus
  python3-serial python3-serial-asyncio   # pymodbus.server imports them; Debian only recommends them
  mbpoll libmodbus-dev iproute2 ethtool curl iputils-ping procps psmisc
)

fuzz=(clang libclang-rt-14-dev)

want=("${build[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test[@]}") ;;
    --fuzz) want+=("${fuzz[@]}") ;;
    *) echo "install-deps.sh: unknown option $arg (--test, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
