#!/usr/bin/env bash
# Builds lambda-emu's own image (docker/Dockerfile), tagged lambda-emu:latest (or $1):
#   docker/build-emulator-image.sh [TAG]
#   docker/build-emulator-image.sh --deps-only     # only fill the dependency cache (CI does it early)
#   docker run --rm --network host lambda-emu up --runner process
# The base (BASE, default lambda-emu/python:3.11 from docker/build-base-images.sh) needs python 3.11+;
# PYTHON_VERSION names it (default 3.11). lambda-emu's dependencies are installed by the host's pip for
# that python into a cache keyed by pyproject.toml (so a rebuild after a code change only copies the
# package), then the build copies both; it needs neither pip nor a registry inside.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
deps_only=""
if [ "${1:-}" = "--deps-only" ]; then deps_only=1; shift; fi
tag="${1:-lambda-emu:latest}"
base="${BASE:-lambda-emu/python:3.11}"
version="${PYTHON_VERSION:-3.11}"
if [ -n "${PIP:-}" ]; then pip=($PIP)
elif [ -x "$repo/.venv/bin/pip" ]; then pip=("$repo/.venv/bin/pip")
elif python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
else
  venv="${TMPDIR:-/tmp}/lambda-emu-base-pip"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  pip=("$venv/bin/pip")
fi

key="$( (cat "$repo/pyproject.toml"; echo "$version") | sha256sum | cut -c1-16)"
deps="${XDG_CACHE_HOME:-$HOME/.cache}/lambda-emu/image-site-packages-$key"
if [ ! -d "$deps" ]; then
  rm -rf "$deps.tmp"
  requirements="$(python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$repo/pyproject.toml")"
  mapfile -t requirements <<<"$requirements"
  "${pip[@]}" install --quiet --disable-pip-version-check --no-compile --target "$deps.tmp" \
    --only-binary=:all: --implementation cp --python-version "$version" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    "${requirements[@]}"
  rm -rf "$deps" && mv "$deps.tmp" "$deps"
fi
[ -z "$deps_only" ] || exit 0

context="$(mktemp -d /tmp/lambda-emu-image.XXXXXX)"
trap 'rm -rf "$context"' EXIT
cp -al "$deps" "$context/site-packages" 2>/dev/null || cp -a "$deps" "$context/site-packages"
mkdir -p "$context/app"
tar -C "$repo" --exclude=__pycache__ -c lambda_emu | tar -C "$context/app" -x
cp "$here/Dockerfile" "$context/Dockerfile"
previous="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
docker build --quiet --network host --build-arg "BASE=$base" -t "$tag" "$context" >/dev/null
# A rebuild leaves the previous image untagged: remove it (it fails harmlessly while a container uses it).
current="$(docker image inspect -f '{{.Id}}' "$tag")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then docker rmi "$previous" >/dev/null 2>&1 || true; fi
echo "$tag"
