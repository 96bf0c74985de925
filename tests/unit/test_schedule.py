"""The texts each scheduler is given, checked on any machine."""

from __future__ import annotations

import plistlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from repair.commands.schedule import (
    Spec,
    cron_line,
    cron_merge,
    launchd_plist,
    plan,
    schtasks_create,
    systemd_units,
)
from repair.errors import UsageError
from tests.cli import invoke

APP = Path("/srv/my webui/stable-diffusion-webui")
PROGRAM = ("/opt/tools/bin/python3", "-m", "repair")


def spec(**kw: object) -> Spec:
    return Spec(dir=APP, program=PROGRAM, **kw)  # type: ignore[arg-type]


def test_name_is_stable_per_install_and_flavour() -> None:
    assert spec().name == spec(every="weekly").name
    assert spec().name.startswith("webui-repair-stable-diffusion-webui-")
    assert spec(pre_update=True).name == spec().name + "-pre-update"
    assert Spec(dir=Path("/other/stable-diffusion-webui")).name != spec().name


def test_command_runs_the_scheduled_check() -> None:
    assert spec(pre_update=True, manifest="a1111").command() == [
        *PROGRAM,
        "schedule",
        "run",
        "--dir",
        str(APP),
        "--manifest",
        "a1111",
        "--pre-update",
    ]


def test_systemd_units() -> None:
    units = systemd_units(spec())
    service, timer = units[f"{spec().name}.service"], units[f"{spec().name}.timer"]
    assert "Type=oneshot" in service
    assert f'ExecStart=/opt/tools/bin/python3 -m repair schedule run --dir "{APP}"' in service
    assert "OnCalendar=*-*-* 03:30:00" in timer and "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    weekly = systemd_units(spec(every="weekly", at="7:05"))[f"{spec().name}.timer"]
    assert "OnCalendar=Sun *-*-* 07:05:00" in weekly


def test_systemd_escapes_percent() -> None:
    units = systemd_units(Spec(dir=Path("/srv/100%"), program=PROGRAM))
    service = next(t for n, t in units.items() if n.endswith(".service"))
    assert "/srv/100%%" in service


def test_cron_line_and_merge() -> None:
    line = cron_line(spec(pre_update=True))
    fields = line.split(" ", 5)
    assert fields[:5] == ["30", "3", "*", "*", "*"]
    command, mark = fields[5].rsplit(" # ", 1)
    assert shlex.split(command) == spec(pre_update=True).command()
    assert mark == f"webui-repair:{spec(pre_update=True).name}"
    assert cron_line(spec(every="weekly")).split(" ")[:5] == ["30", "3", "*", "*", "0"]
    existing = "MAILTO=me\n0 1 * * * backup.sh\n"
    merged = cron_merge(existing, spec())
    assert merged.startswith(existing) and merged.count("webui-repair:") == 1
    assert cron_merge(merged, spec()).count("webui-repair:") == 1  # replaced, not added twice
    assert cron_merge(merged, spec(), remove=True) == existing


def test_schtasks_command() -> None:
    args = schtasks_create(
        Spec(
            dir=Path(r"C:\AI\stable-diffusion-webui"),
            every="weekly",
            program=(r"C:\Program Files\Python310\python.exe", "-m", "repair"),
        )
    )
    assert args[:3] == ["schtasks", "/Create", "/F"]
    assert args[args.index("/SC") + 1] == "WEEKLY" and args[args.index("/D") + 1] == "SUN"
    assert args[args.index("/ST") + 1] == "03:30"
    assert args[args.index("/TN") + 1].startswith("webui-repair\\")
    task = args[args.index("/TR") + 1]
    assert task.startswith('"C:\\Program Files\\Python310\\python.exe" -m repair schedule run')
    daily = schtasks_create(spec())
    assert daily[daily.index("/SC") + 1] == "DAILY" and "/D" not in daily


def test_launchd_plist() -> None:
    text = launchd_plist(spec(every="weekly", at="22:15"), Path("/tmp/log & more.log"))
    data = plistlib.loads(text.encode())
    assert data["Label"] == f"io.github.webui-repair.{spec().name}"
    assert data["ProgramArguments"] == spec().command()
    assert data["StartCalendarInterval"] == {"Hour": 22, "Minute": 15, "Weekday": 0}
    assert data["StandardOutPath"] == "/tmp/log & more.log"


def test_plans(tmp_path: Path) -> None:
    p = plan(spec(), "systemd")
    assert [c[-1] for c in p.commands] == ["daemon-reload", f"{spec().name}.timer"]
    assert all(path.parent.name == "user" for path in p.files)
    assert plan(spec(), "cron").crontab == cron_line(spec())
    assert plan(spec(), "launchd", remove=True).files  # the plist is deleted
    with pytest.raises(UsageError):
        plan(spec(), "at")


def test_bad_time_and_frequency() -> None:
    with pytest.raises(UsageError, match="HH:MM"):
        spec(at="25:00")
    with pytest.raises(UsageError, match="--every"):
        spec(every="hourly")


def test_cli_bad_time_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "repair",
            "schedule",
            "install",
            "--dir",
            str(tmp_path),
            "--at",
            "noon",
            "--scheduler",
            "cron",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[0] == (
        "repair: error: --at must be HH:MM (24-hour clock), not 'noon'"
    )
    assert "Traceback" not in proc.stderr


def test_cli_dry_run_shows_the_cron_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    result = invoke(
        "schedule",
        "install",
        "--dir",
        str(tmp_path),
        "--every",
        "weekly",
        "--scheduler",
        "cron",
        "--dry-run",
    )
    assert result.exit_code == 0
    assert "# crontab line\n30 3 * * 0 " in result.output
