import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _cli() -> str:
    env = os.environ.get("DERMASIM_BIN")
    if env:
        return env
    for p in (ROOT / "target/release/dermasim", ROOT / "target/debug/dermasim"):
        if p.exists():
            return str(p)
    found = shutil.which("dermasim")
    if found:
        return found
    raise RuntimeError(
        "no dermasim binary: build it (cargo build --release --bin dermasim) or set DERMASIM_BIN"
    )


@pytest.fixture(scope="session")
def cli() -> str:
    return _cli()


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT
