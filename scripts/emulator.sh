#!/usr/bin/env bash
# Installs (once) and starts the AWS emulator used by the integration tests: moto's server on
# a free 127.0.0.1 port. Source it: it exports GOVTRAIL_TEST_AWS_ENDPOINT and dummy
# credentials, and stops the server when the calling shell exits. The calling shell's options
# are restored at the end (an interactive shell is not left with `set -e`).
_govtrail_saved_opts="$(set +o)"
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c 'import moto, cfnlint' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.*' 'cfn-lint==1.*'
fi
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
log="${TMPDIR:-/tmp}/govtrail-moto-$port.log"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
export GOVTRAIL_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
export AWS_EC2_METADATA_DISABLED=true
echo "moto server on $GOVTRAIL_TEST_AWS_ENDPOINT (log: $log)"
eval "$_govtrail_saved_opts"
unset _govtrail_saved_opts
