"""``repair diagnose``: the field-note cases, grouping and order, streaming, the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

from repair.checks.registry import EXTRA_ID_MODULES, FINDING_TYPES
from repair.diagnose.causes import diagnosis_findings
from repair.diagnose.scan import BLOCK_SIZE, MAX_LINE, diagnose_file, diagnose_lines, match_text
from repair.diagnose.signature import RebuildHelps
from repair.model import Fix
from tests.cli import invoke

HEALTHY = Path(__file__).parent.parent / "data" / "healthy-logs" / "a1111.log"


def _ids(result) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[s.id for s in c.signatures] for c in result.causes]


def test_numpy_broadcast_to_is_a_mixed_numpy_that_a_rebuild_fixes() -> None:
    log = HEALTHY.read_text(encoding="utf-8").splitlines() + [
        "ImportError: cannot import name 'broadcast_to' from 'numpy.lib.stride_tricks' "
        "(C:\\sd\\venv\\lib\\site-packages\\numpy\\lib\\stride_tricks.py)"
    ]
    result = diagnose_lines(log)
    assert _ids(result) == [["numpy-mixed-install-broadcast-to"]]
    cause = result.causes[0]
    assert cause.rebuild_helps is RebuildHelps.YES
    assert cause.command == "repair"
    assert cause.matches[0].line == len(log)
    assert "run 'repair'" in result.verdict and "--clean-venv" not in result.verdict


def test_access_violation_in_multiarray_umath_is_one_cause_a_rebuild_does_not_fix() -> None:
    log = [
        "Windows fatal exception: access violation",
        "Faulting module name: _multiarray_umath.cp310-win_amd64.pyd, version: 0.0.0.0",
        "[process crashed with code 3221225477 (0xC0000005)]",
    ]
    result = diagnose_lines(log)
    assert len(result.causes) == 1
    cause = result.causes[0]
    assert cause.lead.id == "numpy-core-native-crash"
    assert cause.rebuild_helps is RebuildHelps.NO
    assert [m.line for m in cause.matches] == [1, 2, 3]
    assert "will NOT help" in result.verdict


def test_accelerate_and_bitsandbytes_missing_need_a_restart() -> None:
    text = (
        "ModuleNotFoundError: No module named 'accelerate'\n"
        "ModuleNotFoundError: No module named 'bitsandbytes'\n"
    )
    result = diagnose_lines(text.splitlines())
    assert {c.lead.id for c in result.causes} == {
        "accelerate-not-importable",
        "bitsandbytes-not-importable",
    }
    assert all(c.restart_needed for c in result.causes)
    assert "Restart the application" in result.verdict


def test_directml_float_and_half_is_a_settings_problem() -> None:
    matches = match_text(
        "RuntimeError: mat1 and mat2 must have the same dtype, but got Float and Half"
    )
    assert [m.signature.id for m in matches] == ["mat1-mat2-dtype-mismatch"]
    assert matches[0].signature.rebuild_fixes is RebuildHelps.NO
    assert "--no-half" in matches[0].signature.remedy


def test_related_numpy_abi_lines_are_grouped_into_one_cause() -> None:
    result = diagnose_lines(
        [
            "A module that was compiled using NumPy 1.x cannot be run in",
            "NumPy 2.0.0 as it may crash.",
            "ImportError: numpy.core.multiarray failed to import",
        ]
    )
    assert len(result.causes) == 1
    assert result.causes[0].lead.id == "numpy2-abi-module-built-for-numpy1"
    assert result.causes[0].count == 2


def test_causes_are_ordered_by_what_to_fix_first() -> None:
    result = diagnose_lines(
        [
            "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB",
            "ERROR: Cannot activate python venv, aborting...",
        ]
    )
    assert [c.lead.family for c in result.causes] == ["pip-venv", "torch"]


def test_match_text_for_deep_import_probes() -> None:
    assert match_text("ModuleNotFoundError: No module named 'insightface'")[0].signature.id == (
        "insightface-not-installed"
    )
    assert match_text("everything imported fine") == ()


def test_findings_carry_the_id_the_fix_and_the_restart() -> None:
    result = diagnose_lines(
        [
            "ImportError: cannot import name 'broadcast_to' from 'numpy.lib.stride_tricks' (x)",
            "RuntimeError: CUDA error: an illegal memory access was encountered",
        ]
    )
    findings = {f.subject: f for f in diagnosis_findings(result)}
    assert set(findings) == {"numpy-mixed-install-broadcast-to", "cuda-illegal-memory-access"}
    assert all(f.id == "log-signature" for f in findings.values())
    assert findings["numpy-mixed-install-broadcast-to"].fix is Fix.REINSTALL
    assert findings["cuda-illegal-memory-access"].fix is Fix.MANUAL
    assert findings["cuda-illegal-memory-access"].details["rebuild_helps"] == "no"
    assert findings["numpy-mixed-install-broadcast-to"].details["lines"] == [1]
    assert "log-signature" in FINDING_TYPES
    assert "repair.diagnose.causes" in EXTRA_ID_MODULES
    doc = Path(__file__).parents[2] / "repair" / "data" / "findings" / "log-signature.md"
    assert doc.read_text(encoding="utf-8").startswith("# log-signature\n")


def test_streaming_counts_lines_across_blocks_and_keeps_memory_bounded(tmp_path: Path) -> None:
    line = b"Requirement already satisfied: numpy in c:\\sd\\venv\\lib\\site-packages (1.26.2)\n"
    n = (3 * BLOCK_SIZE) // len(line)
    log = tmp_path / "big.log"
    with log.open("wb") as fh:
        for _ in range(n):
            fh.write(line)
        fh.write(b"RuntimeError: CUDA error: out of memory\r\n" * 50)
        fh.write(b"x" * (MAX_LINE * 2) + b" RuntimeError: CUDA error: out of memory\n")
        fh.write(b"\xff\xfe garbage \x00\x01 binary\n")
    result = diagnose_file(log)
    cause = result.causes[0]
    assert cause.lead.id == "cuda-out-of-memory"
    assert cause.count == 51
    assert len(cause.matches) == 3  # kept; the count goes on
    assert cause.matches[0].line == n + 1
    assert result.lines == n + 52


def test_utf16_log_from_powershell_is_read(tmp_path: Path) -> None:
    log = tmp_path / "ps.log"
    log.write_bytes("\ufeffok\r\nTorch not compiled with CUDA enabled\r\n".encode("utf-16-le"))
    result = diagnose_file(log)
    got = [(c.lead.id, c.first_line) for c in result.causes]
    assert got == [("torch-not-compiled-with-cuda", 2)]


def test_cli_exit_codes_text_and_json(tmp_path: Path) -> None:
    ok = invoke("diagnose", str(HEALTHY))
    assert ok.exit_code == 0, ok.output
    assert "No known problem" in ok.output

    bad = tmp_path / "crash.log"
    bad.write_text(
        "Launching Web UI with arguments:\nAssertionError: Torch not compiled with CUDA enabled\n",
        encoding="utf-8",
    )
    text = invoke("diagnose", str(bad))
    assert text.exit_code == 1
    assert "line 2:" in text.output and "verdict:" in text.output

    js = invoke("diagnose", "--json", str(bad))
    assert js.exit_code == 1
    data = json.loads(js.output)
    assert data["schema"] == "repair.diagnosis/1"
    assert set(data) >= {"matches", "verdict"}
    assert set(data["matches"][0]) == {
        "id",
        "family",
        "line",
        "text",
        "cause",
        "remedy",
        "rebuild_helps",
        "restart_needed",
        "source",
    }
    assert data["matches"][0]["line"] == 2


def test_cli_reads_stdin() -> None:
    res = invoke(
        "diagnose",
        "-",
        "--json",
        input="fatal: detected dubious ownership in repository at 'C:/sd'\n",
    )
    assert res.exit_code == 1
    assert json.loads(res.output)["matches"][0]["id"] == "git-dubious-ownership"
    empty = invoke("diagnose", input="")
    assert empty.exit_code == 0


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    for arg, why in [
        (str(tmp_path / "missing.log"), "no such log file"),
        (str(tmp_path), "is a directory"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "repair", "diagnose", arg],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert proc.returncode == 2
        assert why in proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
