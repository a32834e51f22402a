#!/usr/bin/env bash
# Installs the Debian packages gemba needs to build, run and test, when any is missing.
# Fast when everything is there (one dpkg-query), uses sudo only when not root, and fetches
# nothing from anywhere but the configured Debian mirrors.
set -euo pipefail

runtime=(libyaml-0-2 libmicrohttpd12 libjansson4 libdeflate0 libcsv3 libsodium23 libmodbus5 libmosquitto1 libssl3
         libprotobuf-c1 libcurl4 libxml2 tzdata)
build=(gcc make cmake pkg-config libyaml-dev libmicrohttpd-dev libjansson-dev libdeflate-dev libcsv-dev libsodium-dev
       libmodbus-dev libmosquitto-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libxml2-dev
       libzstd-dev)
testing=(libcmocka-dev zlib1g-dev curl jq clang libclang-rt-14-dev socat bc mosquitto mosquitto-clients openssl
         chromium fonts-dejavu-core python3-influxdb)
# the peers `make bench-store` and `make bench-api` measure gemba against (never needed by make test)
bench=(sqlite3 libsqlite3-dev postgresql-15 influxdb victoria-metrics curl jq bc wrk nginx-light python3)

want=("${runtime[@]}" "${build[@]}")
# Node.js (18 or later) and npm build the dashboard (web/). A machine's own Node.js will do (it
# may come with its own npm); without one, Debian's nodejs and npm are installed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then want+=(nodejs npm); fi
if [ "${1:-}" = "--test" ]; then want+=("${testing[@]}"); fi
if [ "${1:-}" = "--bench" ]; then want+=("${bench[@]}"); fi

node_ok() {
  local v
  v=$(node --version 2>/dev/null) || { echo "gemba: the dashboard needs Node.js and npm; neither could be installed" >&2; return 1; }
  v=${v#v}
  [ "${v%%.*}" -ge 18 ] 2>/dev/null && command -v npm >/dev/null && return 0
  echo "gemba: the dashboard needs Node.js 18 or later with npm; $(command -v node) is v$v" >&2
  return 1
}

missing=()
for p in "${want[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  case "$st" in ii*) ;; *) missing+=("$p") ;; esac
done
if [ ${#missing[@]} -eq 0 ]; then node_ok; exit; fi

echo "gemba: installing Debian packages: ${missing[*]}" >&2
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "gemba: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  # A fresh machine may have empty package lists: refresh them once and retry.
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
node_ok
