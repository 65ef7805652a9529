"""The committed _pb2 modules match what generate.sh makes from proto/ now."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PACKAGE_ROOT


def test_generated_modules_are_up_to_date(tmp_path: Path) -> None:
    if shutil.which("protoc") is None or shutil.which("grpc_python_plugin") is None:
        pytest.skip("protoc or grpc_python_plugin missing (protobuf-compiler-grpc)")
    subprocess.run([str(PACKAGE_ROOT / "generate.sh"), str(tmp_path)], check=True)
    committed = PACKAGE_ROOT / "baton" / "_proto" / "baton" / "v1"
    fresh = tmp_path / "baton" / "v1"
    names = sorted(p.name for p in fresh.glob("*.py"))
    assert names == sorted(p.name for p in committed.glob("*.py"))
    _, mismatch, errors = filecmp.cmpfiles(committed, fresh, names, shallow=False)
    assert not mismatch and not errors, (
        f"stale generated modules {mismatch or errors}: run client/python/generate.sh")
