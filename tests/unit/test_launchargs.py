"""Launch arguments: the manifest's per backend, card advice, and edits of webui-user files that
keep the user's lines and arguments."""

from __future__ import annotations

from pathlib import Path

from repair.app.launchargs import card_advice, edit_text, write_launch_args

DML = ["--use-directml", "--opt-sub-quad-attention", "--no-half", "--disable-nan-check"]


def test_existing_arguments_are_kept_and_not_repeated() -> None:
    text = 'export COMMANDLINE_ARGS="--listen --no-half"\n#python_cmd="python3"\n'
    out = edit_text(text, DML, bat=False)
    assert (
        'export COMMANDLINE_ARGS="--listen --no-half --use-directml '
        '--opt-sub-quad-attention --disable-nan-check"' in out
    )
    assert '#python_cmd="python3"' in out
    assert edit_text(out, DML, bat=False) == out


def test_bat_line_is_set_in_place_with_crlf() -> None:
    text = "@echo off\r\nset COMMANDLINE_ARGS=--medvram\r\ncall webui.bat\r\n"
    out = edit_text(text, DML, bat=True)
    assert out.startswith("@echo off\r\nset COMMANDLINE_ARGS=--medvram --use-directml")
    assert out.endswith("call webui.bat\r\n")


def test_missing_file_is_created_for_the_host_only(tmp_path: Path) -> None:
    changed = write_launch_args(tmp_path, DML, windows=True)
    assert changed == [tmp_path / "webui-user.bat"]
    assert "set COMMANDLINE_ARGS=--use-directml" in (tmp_path / "webui-user.bat").read_text()
    assert write_launch_args(tmp_path, DML, windows=True) == []  # nothing changes the second time


def test_rx_6000_and_newer_on_directml_are_pointed_to_zluda() -> None:
    notes = card_advice("directml", ["AMD Radeon RX 6700 XT"])
    assert notes and "--backend zluda" in notes[0]
    assert card_advice("directml", ["AMD Radeon RX 580"])[0].count("--no-half") == 1
    assert card_advice("cuda", ["NVIDIA GeForce RTX 4090"]) == []
