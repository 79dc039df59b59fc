#!/usr/bin/env bash
# Builds tools/helm-render into BUILD/helm-render, offline, from Debian's Go packages only
# (golang-go, golang-github-masterminds-sprig-dev and -semver-dev, golang-gopkg-yaml.v2-dev under
# /usr/share/gocode). Go runs in GOPATH mode with a GOPATH of its own in the build tree whose one
# package is a symlink to tools/helm-render; the go.mod there makes Go resolve the module path
# github.com/Masterminds/sprig/v3 to Debian's .../Masterminds/sprig (minimal module
# compatibility). No network, no module cache, nothing written outside BUILD.
# Usage: scripts/build-helm-render.sh [BUILD]   (prints nothing when already up to date)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$root/$build" ;; esac
out="$build/helm-render"
src="$root/tools/helm-render"
if [ -x "$out" ] && [ -z "$(find "$src" -newer "$out" -print -quit)" ]; then exit 0; fi
command -v go >/dev/null || { echo "build-helm-render: go is missing (make deps installs golang-go)" >&2; exit 1; }
for d in github.com/Masterminds/sprig github.com/Masterminds/semver gopkg.in/yaml.v2; do
  [ -d "/usr/share/gocode/src/$d" ] ||
    { echo "build-helm-render: /usr/share/gocode/src/$d is missing (make deps)" >&2; exit 1; }
done
gopath="$build/gopath"
mkdir -p "$gopath/src/sluice.dev/tools"
ln -sfn "$src" "$gopath/src/sluice.dev/tools/helm-render"
env GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$build/go-cache" GOFLAGS= \
  GOPROXY=off CGO_ENABLED=0 go build -trimpath -o "$out.tmp" sluice.dev/tools/helm-render
mv "$out.tmp" "$out"
