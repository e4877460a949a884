#!/usr/bin/env bash
# Local stand-ins of AWS's Lambda base images, for machines that cannot pull public.ecr.aws/lambda/...:
# a Debian root filesystem (debootstrap, minbase) with the base images' conventions (/lambda-entrypoint.sh,
# /var/runtime, /var/task, /opt). The python ones (public.ecr.aws/lambda/python:3.X) add python3 under
# /var/lang/bin and AWS's runtime interface client (awslambdaric); the provided one
# (public.ecr.aws/lambda/provided:al2023, also tagged :al2) runs a custom runtime's bootstrap and has curl.
#
#   docker/build-base-images.sh            # lambda-emu/python:3.11 (bookworm), :3.13 (trixie), provided:al2023
#   docker/build-base-images.sh 3.13       # just one (provided: lambda-emu/provided:al2023 and :al2)
#   FORCE=1 docker/build-base-images.sh    # rebuild tags that exist
#
# Tags that exist are skipped. Needs root (debootstrap), a running Docker engine, debootstrap and pip
# on the host. The wheels are installed by the host's pip for the image's python version (no network
# and no CA bundle inside the build); the Debian mirror is $DEBIAN_MIRROR.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.11 3.13)

suite_for() {
  case "$1" in
    3.11) echo bookworm ;;
    3.13) echo trixie ;;
    *) echo "no Debian release ships python $1 (known: 3.11 bookworm, 3.13 trixie)" >&2; return 1 ;;
  esac
}

say() { printf '[build-base-images] %s\n' "$*" >&2; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# A pip on the host, to install wheels built for the image's python version (the project's venv, the
# system's, else a throw-away venv).
host_pip() {
  if [ -x "$here/../.venv/bin/pip" ]; then
    "$here/../.venv/bin/pip" "$@"
  elif python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip "$@"
  else
    local venv="${TMPDIR:-/tmp}/lambda-emu-base-pip"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" "$@"
  fi
}

build_rootfs() {  # suite -> image lambda-emu/debian:<suite>
  local suite="$1" work="$2"
  local tag="lambda-emu/debian:$suite"
  if image_exists "$tag" && [ -z "${FORCE:-}" ]; then
    say "$tag exists"
    return
  fi
  say "debootstrap $suite (minbase + python3) from $mirror"
  local started=$SECONDS
  debootstrap --variant=minbase --include=python3 "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; say "debootstrap $suite failed"; return 1; }
  # Small images: no package caches, lists, docs or locales beyond C.
  rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/* \
    "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/info/* \
    "$work/rootfs"/var/log/*.log "$work/rootfs"/var/cache/debconf/*-old
  find "$work/rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
  tar -C "$work/rootfs" --numeric-owner -c . | docker import - "$tag" >/dev/null
  rm -rf "$work/rootfs"
  say "$tag imported ($((SECONDS - started)) s)"
}

build_python() {  # version
  local version="$1"
  local tag="lambda-emu/python:$version"
  if image_exists "$tag" && [ -z "${FORCE:-}" ]; then
    say "$tag exists, skipped"
    return
  fi
  local suite work
  suite="$(suite_for "$version")"
  work="$(mktemp -d /tmp/lambda-emu-base.XXXXXX)"
  trap 'rm -rf "$work"' RETURN
  build_rootfs "$suite" "$work"

  local started=$SECONDS context="$work/context"
  mkdir -p "$context"
  cp -a "$here/python-base/." "$context/"
  local overlay="$context/overlay"
  mkdir -p "$overlay/var/task" "$overlay/opt" "$overlay/var/lang/bin" "$overlay/var/lang/lib/python$version/site-packages"
  ln -s "/usr/bin/python$version" "$overlay/var/lang/bin/python$version"
  ln -s "python$version" "$overlay/var/lang/bin/python3"
  ln -s "python$version" "$overlay/var/lang/bin/python"
  sed -i "s/@VERSION@/$version/g" "$overlay/var/runtime/bootstrap"
  say "awslambdaric wheels for python $version"
  host_pip install --quiet --disable-pip-version-check --no-compile --target "$overlay/var/runtime" \
    --only-binary=:all: --implementation cp --python-version "$version" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    awslambdaric
  rm -rf "$overlay/var/runtime/bin"
  docker build --quiet --network host --build-arg "ROOTFS=lambda-emu/debian:$suite" -t "$tag" "$context" \
    >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; say "docker build of $tag failed"; return 1; }
  # The image must really carry the python it is named after, and the runtime interface client.
  local actual
  actual="$(docker run --rm --network none -e PYTHONPATH=/var/runtime --entrypoint /var/lang/bin/python3 "$tag" \
    -c 'import sys, awslambdaric; print("%d.%d" % sys.version_info[:2])' 2>&1)" || true
  if [ "$actual" != "$version" ]; then
    docker rmi "$tag" >/dev/null || true
    say "$tag has python $actual, not $version"
    return 1
  fi
  say "$tag built ($((SECONDS - started)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1048576}'))"
}

build_provided() {  # lambda-emu/provided:al2023 (and :al2, the same image) on the bookworm root filesystem
  local tag="lambda-emu/provided:al2023"
  if image_exists "$tag" && image_exists "lambda-emu/provided:al2" && [ -z "${FORCE:-}" ]; then
    say "$tag exists, skipped"
    return
  fi
  local work
  work="$(mktemp -d /tmp/lambda-emu-base.XXXXXX)"
  trap 'rm -rf "$work"' RETURN
  build_rootfs bookworm "$work"
  local started=$SECONDS
  # The network for apt (curl), as debootstrap had it.
  docker build --quiet --network host --build-arg "ROOTFS=lambda-emu/debian:bookworm" -t "$tag" \
    "$here/provided-base" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; say "docker build of $tag failed"; return 1; }
  # The image must really carry the entrypoint and curl a shell bootstrap calls the Runtime API with.
  if ! docker run --rm --network none --entrypoint /bin/sh "$tag" \
      -c 'test -x /lambda-entrypoint.sh && curl --version >/dev/null' >"$work/check.log" 2>&1; then
    cat "$work/check.log" >&2
    docker rmi "$tag" >/dev/null || true
    say "$tag lacks /lambda-entrypoint.sh or curl"
    return 1
  fi
  docker tag "$tag" lambda-emu/provided:al2
  say "$tag (and :al2) built ($((SECONDS - started)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1048576}'))"
}

provided=""
pythons=()
for target in "${versions[@]}"; do
  case "$target" in
    provided|provided:*|provided.*) provided=1 ;;
    *) pythons+=("$target") ;;
  esac
done
[ $# -gt 0 ] || provided=1

pids=()
for version in "${pythons[@]}"; do
  suite="$(suite_for "$version")"
  # The releases are fetched in parallel: debootstrap waits on the network most of the time. The
  # provided image follows the bookworm python build, whose root filesystem it shares.
  if [ "$suite" = bookworm ] && [ -n "$provided" ]; then
    (build_python "$version" && build_provided) &
    provided=""
  else
    build_python "$version" &
  fi
  pids+=($!)
done
if [ -n "$provided" ]; then
  build_provided &
  pids+=($!)
fi
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit $status
