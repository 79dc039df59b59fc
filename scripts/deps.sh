#!/usr/bin/env bash
# Installs every Debian package sluice needs to build, test, benchmark and demo.
# Idempotent and silent when everything is already present.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libluajit2-5.1-dev luajit2 libuv1-dev libcurl4-openssl-dev libyajl-dev libyaml-dev
  libmicrohttpd-dev libgnutls28-dev libedit-dev tmux
  lua-busted jq time python3
  clang libclang-rt-14-dev clang-format
  chromium
  coinor-cbc glpk-utils
  libmicrohttpd-dev openssl prometheus zlib1g-dev
  golang-go golang-github-masterminds-sprig-dev golang-github-masterminds-semver-dev
  golang-gopkg-yaml.v2-dev
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
