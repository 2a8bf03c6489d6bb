#!/usr/bin/env bash
# The Python package: build the abi3 wheel with maturin, install it into a fresh virtual
# environment with its test dependencies from PyPI, and run pytest against it and against the
# `dermasim` binary built from the same tree (identical numbers, cohort datasets identical
# byte for byte across executors, resume after a kill). Prints pytest's summary line.
#
# Environment: PYTHON (default python3), DERMASIM_PY_PROFILE (dev, the profile `cargo test`
# already built; release for a timing-grade wheel), DERMASIM_PY_VENV (default target/py-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
PROFILE=${DERMASIM_PY_PROFILE:-dev}
VENV=${DERMASIM_PY_VENV:-$ROOT/target/py-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "maturin>=1.9,<2" pytest pandas pyarrow polars tqdm matplotlib duckdb xarray
# The distributed engines: tested when they install (the tests say "skipped" otherwise).
"$PY" -m pip install -q "dask[distributed]" || echo "warning: dask[distributed] did not install; its test is skipped" >&2
"$PY" -m pip install -q ray || echo "warning: ray did not install; its test is skipped" >&2

# The binary the tests compare with, from the same tree and profile. In the dev profile it is
# the one `cargo test --workspace` builds (a no-op after the README's test command): `cargo
# build --bin dermasim` selects one package, so cargo unifies a smaller feature set (no dev
# dependencies, no Arrow FFI) and compiled clap, Arrow and Parquet a second time.
if [ "$PROFILE" = dev ]; then
  BIN_DIR=debug
  cargo test -q --workspace --locked --no-run
else
  BIN_DIR=$PROFILE
  cargo build -q --locked --profile "$PROFILE" --bin dermasim
fi
export DERMASIM_BIN="$CARGO_TARGET_DIR/$BIN_DIR/dermasim"

rm -rf "$CARGO_TARGET_DIR/wheels"
"$VENV/bin/maturin" build -q --locked --profile "$PROFILE" --interpreter "$PY" \
  --out "$CARGO_TARGET_DIR/wheels"
"$PY" -m pip install -q --force-reinstall --no-deps "$CARGO_TARGET_DIR"/wheels/dermasim-*.whl
ls "$CARGO_TARGET_DIR"/wheels/

# Run from outside the tree, so `import dermasim` is the installed wheel.
cd "$CARGO_TARGET_DIR"
"$PY" -c 'import dermasim, sys; print("dermasim", dermasim.__version__, "from", dermasim.__file__, "on Python", sys.version.split()[0])'
"$PY" -m pytest -q -p no:cacheprovider "$ROOT/crates/dermasim-py/tests" "$@"
