"""inward.pipeline.bytecode: the install-time list of modules to byte-compile names real modules."""

import importlib.util
import subprocess
import sys

from inward.pipeline import bytecode


def test_every_listed_module_exists():
    missing = [m for m in bytecode.MODULES if importlib.util.find_spec(m) is None]
    assert missing == []


def test_refuses_to_run_where_bytecode_writing_is_off():
    r = subprocess.run([sys.executable, "-m", "inward.pipeline.bytecode"], check=False,
                       capture_output=True, text=True,
                       env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": ""})
    assert r.returncode == 2 and "PYTHONDONTWRITEBYTECODE" in r.stderr
