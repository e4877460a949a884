#!/usr/bin/env bash
# Docker for the container tests (make docker-ready; .ci/run calls it): installs docker.io and
# debootstrap when missing, starts dockerd when no engine answers, builds the local base images (python
# and provided) once (docker/build-base-images.sh skips tags that exist) and lambda-emu's own image.
# Prints how long each step took.
#
# Under CI=true any failure is fatal with its reason (a container test never skips there); elsewhere
# the reason is printed and the container tests skip.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '[docker-ready] %s\n' "$*" >&2; }
fail() {
  say "$*"
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  say "(not CI: the container tests will skip)"
  exit 0
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
engine_answers() { docker info >/dev/null 2>&1; }

started=$SECONDS
# lambda-emu's own image needs its dependencies installed for the image's python (pip, slow): fetched
# now, while apt and debootstrap run.
docker/build-emulator-image.sh --deps-only >"${TMPDIR:-/tmp}/lambda-emu-image-deps.log" 2>&1 &
image_deps=$!

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  step=$SECONDS
  say "installing docker.io and debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null || fail "apt-get update failed"
  as_root apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null \
    || fail "apt-get install docker.io debootstrap failed"
  say "installed in $((SECONDS - step)) s"
fi

if ! engine_answers; then
  step=$SECONDS
  log="${TMPDIR:-/tmp}/lambda-emu-dockerd.log"
  say "starting dockerd (log: $log)"
  # No bridge and no iptables: containers use the host network and talk to 127.0.0.1 only.
  as_root setsid nohup dockerd --bridge=none --iptables=false >"$log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    engine_answers && break
    sleep 0.5
  done
  engine_answers || fail "dockerd did not answer within 30 s: $(tail -n 5 "$log" 2>/dev/null | tr '\n' ' ')"
  say "engine up in $((SECONDS - step)) s"
fi

step=$SECONDS
as_root docker/build-base-images.sh || fail "building the base images failed"
say "base images ready in $((SECONDS - step)) s"

# lambda-emu's own image: its dependencies (pip, the slow part) are cached for the test that rebuilds it.
step=$SECONDS
wait "$image_deps" || fail "installing lambda-emu's dependencies for its image failed: $(tail -n 5 "${TMPDIR:-/tmp}/lambda-emu-image-deps.log")"
docker/build-emulator-image.sh lambda-emu:latest >/dev/null || fail "building lambda-emu's own image failed"
say "lambda-emu's own image ready in $((SECONDS - step)) s"
say "docker ready in $((SECONDS - started)) s"
