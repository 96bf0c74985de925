"""The install lock (flock on POSIX, seen by filelock and the other way round) and the process
scan's reading of mapped files."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from repair.app.target import resolve
from repair.checks.processes import processes_using
from repair.errors import BusyError
from repair.transaction.journal import install_lock


def _install(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    return resolve(str(app), None, "generic")


def test_the_lock_and_filelock_see_each_other(tmp_path: Path) -> None:
    from filelock import FileLock, Timeout

    install = _install(tmp_path)
    with install_lock(install) as path:
        with pytest.raises(Timeout):
            FileLock(str(path), timeout=0).acquire()
        with pytest.raises(BusyError, match="another repair is running"), install_lock(install):
            pass
    other = FileLock(str(path), timeout=0)
    other.acquire()
    try:
        with pytest.raises(BusyError), install_lock(install):
            pass
    finally:
        other.release()
    with install_lock(install):  # free again once released
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/<pid>/maps")
def test_a_process_mapping_a_file_of_the_venv_is_found_and_its_deleted_maps_named(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"
    (venv / "lib").mkdir(parents=True)
    mapped = venv / "lib" / "ext.so"
    mapped.write_bytes(b"\0" * 8192)
    # A Python that is not the venv's (its executable and command name nothing of the venv)
    # maps one of the venv's files, as an interpreter does with a loaded extension module.
    code = (
        "import mmap, sys, time\n"
        "f = open(sys.argv[1], 'rb'); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n"
        "f.close(); print('ready', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(mapped)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        found = {p.pid: p for p in processes_using(venv)}
        assert holder.pid in found and bystander.pid not in found
        assert found[holder.pid].deleted_maps == ()
        mapped.unlink()  # an installer replaced the file under the running process
        time.sleep(0.05)
        found = {p.pid: p for p in processes_using(venv)}
        assert found[holder.pid].deleted_maps == (str(mapped),)
    finally:
        for proc in (holder, bystander):
            proc.kill()
            proc.wait()
