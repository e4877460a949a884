#!/bin/sh
# The base image's entrypoint: the handler is the one argument (the image's CMD); the runtime's
# bootstrap then serves the Runtime API named by AWS_LAMBDA_RUNTIME_API.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  # AWS's images start their bundled Runtime Interface Emulator here; this stand-in has none.
  echo "AWS_LAMBDA_RUNTIME_API is not set: run this image through lambda-emu (--runner docker)" 1>&2
  exit 142
fi
exec /var/runtime/bootstrap
