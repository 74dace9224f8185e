#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace.
# Needs a Rust toolchain (rustup's cargo with rustfmt and clippy) and python3: the AWS
# adapter tests run against moto's server on 127.0.0.1, installed in .venv and started here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep 2-core builds lean: no debug info in test builds (see ../shared/TOOLCHAIN.md).
export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_TERM_COLOR=never

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== AWS emulator"
# shellcheck source=scripts/emulator.sh
source scripts/emulator.sh
echo "== template.yaml: cfn-lint, sam validate --lint and the template checks"
.venv/bin/cfn-lint template.yaml
.venv/bin/python scripts/check_template.py
# The SAM CLI pins its own boto3; it lives in a venv of its own.
if [ ! -x .venv-sam/bin/sam ]; then
  python3 -m venv .venv-sam
  .venv-sam/bin/pip install --quiet --disable-pip-version-check 'aws-sam-cli==1.*'
fi
AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing SAM_CLI_TELEMETRY=0 \
  .venv-sam/bin/sam validate --lint --template template.yaml
echo "== cargo test --workspace"
log="$(mktemp)"
cargo test --workspace 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one result line per binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
