#!/usr/bin/env bash
# Builds the linearizability checker (tools/linearize, Porcupine as pinned in go.mod) into
# LINEARIZE_BIN_DIR (default ~/.cache/kubeprop/linearize/<hash>/), where <hash> is taken
# over the checker's Go sources, go.mod and go.sum, so an edited checker gets a new folder
# and is rebuilt.
#
#   tools/linearize/build.sh            build if missing, print the folder
#   tools/linearize/build.sh --print    print the folder only
#
# A binary already in the folder is not rebuilt (LINEARIZE_REBUILD=1 forces a build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
sources=(go.mod go.sum)
for f in *.go; do
  [[ "$f" == *_test.go ]] || sources+=("$f")
done
hash="$(for f in "${sources[@]}"; do printf '%s\0' "$f"; cat "$f"; done | sha256sum | cut -c1-16)"
bin_dir="${LINEARIZE_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeprop/linearize/$hash}"

if [[ "${1-}" == "--print" ]]; then
  echo "$bin_dir"
  exit 0
fi

if [[ -x "$bin_dir/linearize" && "${LINEARIZE_REBUILD-}" != 1 ]]; then
  echo "linearize: already built in $bin_dir"
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "linearize: 'go' is not on PATH" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export CGO_ENABLED=0

mkdir -p "$bin_dir"
echo "linearize: building kubeprop/tools/linearize into $bin_dir"
start=$SECONDS
# build to a temporary name first so an interrupted build never leaves a broken binary;
# the process id keeps two concurrent builds apart
tmp="$bin_dir/.linearize.$$.tmp"
trap 'rm -f "$tmp"' EXIT
go build -trimpath -ldflags "-s -w" -o "$tmp" .
mv -f "$tmp" "$bin_dir/linearize"
echo "linearize: built in $((SECONDS - start))s"
echo "$bin_dir"
