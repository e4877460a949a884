#!/usr/bin/env bash
# AWS CLI v2 at /usr/bin/aws (Debian's awscli package), for the tests of `aws logs tail`: the awscli the
# test extras install from PyPI is v1, which has no `logs tail`. Does nothing when v2 is already there.
set -euo pipefail
if /usr/bin/aws --version 2>/dev/null | grep -q '^aws-cli/2\.'; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "aws-cli-v2.sh: installing Debian's awscli (AWS CLI v2) needs root; run: sudo apt-get install awscli" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends awscli >/dev/null 2>&1 || {
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends awscli >/dev/null
}
/usr/bin/aws --version
