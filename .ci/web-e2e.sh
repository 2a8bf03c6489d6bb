#!/usr/bin/env bash
# Browser end-to-end test of `dermasim serve`: Python Playwright driving Debian's Chromium.
# Screenshots of each page go to target/web-e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/bin/chromium ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
python3 -c "import playwright, pytest" 2>/dev/null || pip install -q playwright pytest || pip install -q --break-system-packages playwright pytest
# DERMASIM_BIN may name an already built binary (a debug build is fine).
if [ -z "${DERMASIM_BIN:-}" ]; then
    cargo build --release --locked --bin dermasim
    export DERMASIM_BIN="$PWD/target/release/dermasim"
fi
export DERMASIM_E2E_OUT="$PWD/target/web-e2e"
mkdir -p "$DERMASIM_E2E_OUT"
python3 -m pytest -q tests/e2e
