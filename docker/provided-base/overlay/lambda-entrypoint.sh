#!/bin/sh
# The provided base image's entrypoint: the handler is the one argument (the image's CMD), exported as
# _HANDLER; then the custom runtime's bootstrap serves the Runtime API named by AWS_LAMBDA_RUNTIME_API.
# An image function's bootstrap is /var/runtime/bootstrap (AWS's convention for images); a zip
# function's is its code's /var/task/bootstrap, else a layer's /opt/bootstrap, the order Lambda looks in.
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
for bootstrap in /var/runtime/bootstrap /var/task/bootstrap /opt/bootstrap; do
  if [ -f "$bootstrap" ]; then
    exec "$bootstrap"
  fi
done
echo "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" 1>&2
exit 142
