"""Manifest schema, validator and the `repair manifests` commands."""

# ruff: noqa: E501 - the table of bad manifests keeps one case a line, as the issue asks

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repair.app import manifest as manifests
from tests.cli import invoke

SHIPPED = Path(__file__).resolve().parents[2] / "manifests"
HEAD = 'schema = 1\nname = "mine"\ntitle = "Mine"\n'
RULE = HEAD + '[[conflicts]]\nrule = "a"\nmessage = "m"\nremedy = "r"\n'
ONE = 'when = [{package = "a"}]\n'

# (manifest text, the "key: problem" the validator must name). One bad manifest per line.
BAD = [
    ('name = "x"\ntitle = "X"\n', "schema: missing"),
    ('schema = 2\nname = "x"\ntitle = "X"\n', "schema: 2 is not supported"),
    ('schema = "1"\nname = "x"\ntitle = "X"\n', "schema: '1' is not supported"),
    ('schema = 1\ntitle = "X"\n', "name: missing"),
    ('schema = 1\nname = "x"\n', "title: missing"),
    ('schema = 1\nname = "x y"\ntitle = "X"\n', "name: 'x y' must be letters"),
    ('schema = 1\nname = 3\ntitle = "X"\n', "name: expected str"),
    (HEAD + "colour = 1\n", "colour: unknown key"),
    (HEAD + '[repository]\nurl = "u"\nbrnch = "main"\n', "repository.brnch: unknown key"),
    (HEAD + "[repository]\nurl = 5\n", "repository.url: expected str"),
    (HEAD + '[detect]\nall = "launch.py"\n', "detect.all: expected list"),
    (HEAD + "[detect]\nany = [1, 2]\n", "detect.any: expected a list of strings"),
    (HEAD + '[detect]\nall = ["/etc/passwd"]\n', "detect.all: '/etc/passwd' must be a relative"),
    (HEAD + '[detect]\nnone = ["../x"]\n', "detect.none: '../x' must be a relative"),
    (HEAD + '[detect]\npriority = "high"\n', "detect.priority: expected int"),
    (HEAD + "[detect]\npriority = true\n", "detect.priority: expected int, got bool"),
    (HEAD + '[venv]\ndirs = "venv"\n', "venv.dirs: expected list"),
    (HEAD + '[venv]\ndirs = ["C:/venv"]\n', "venv.dirs: 'C:/venv' must be a relative"),
    (
        HEAD + '[python]\nsupported = "3.10"\n',
        "python.supported: '3.10' is not a version specifier",
    ),
    (HEAD + "[python]\nrecommended = 3.10\n", "python.recommended: expected str"),
    (HEAD + '[requirements]\nfiles = "requirements.txt"\n', "requirements.files: expected list"),
    (HEAD + '[user_data]\npaths = ["/home"]\n', "user_data.paths: '/home' must be a relative"),
    (HEAD + '[restart]\npackages = "torch"\n', "restart.packages: expected list"),
    (HEAD + "[deep]\nmodules = [1]\n", "deep.modules: expected a list of strings"),
    (HEAD + '[launch]\nrecommended = "--xformers"\n', "launch.recommended: expected dict"),
    (HEAD + '[launch.recommended]\nvulkan = "--x"\n', "launch.recommended.vulkan: unknown backend"),
    (HEAD + "[launch.recommended]\ncuda = 1\n", "launch.recommended.cuda: expected a string"),
    (HEAD + 'torch = "2.1"\n', "torch: expected dict"),
    (HEAD + '[torch.vulkan]\npackages = ["torch"]\n', "torch.vulkan: unknown backend"),
    (HEAD + '[torch]\ncuda = "torch==2.1"\n', "torch.cuda: expected a table"),
    (HEAD + '[torch.cuda]\nindex_url = "https://x"\n', "torch.cuda.packages: expected a non-empty"),
    (HEAD + "[torch.cuda]\npackages = []\n", "torch.cuda.packages: expected a non-empty"),
    (
        HEAD + '[torch.cuda]\npackages = ["torch >> 2"]\n',
        "torch.cuda.packages: 'torch >> 2' is not a requirement",
    ),
    (
        HEAD + '[torch.cuda]\npackages = ["torch"]\nindex_url = "download.pytorch.org"\n',
        "torch.cuda.index_url: expected an http(s) URL",
    ),
    (
        HEAD + '[torch.cuda]\npackages = ["torch"]\nindex = "https://x"\n',
        "torch.cuda.index: unknown key",
    ),
    (HEAD + 'include = "rules/common.toml"\n', "include: expected list"),
    (HEAD + 'conflicts = "none"\n', "conflicts: expected an array of tables"),
    (HEAD + "conflicts = [1]\n", "conflicts[0]: expected a table"),
    (HEAD + '[[conflicts]]\nmessage = "m"\nremedy = "r"\n' + ONE, "conflicts[0].rule: missing"),
    (RULE.replace('"a"', '"Bad Name"') + ONE, "rule: missing or not a kebab-case"),
    (RULE + ONE + RULE.replace(HEAD, "") + ONE, "'a' is defined twice"),
    (HEAD + '[[conflicts]]\nrule = "a"\nremedy = "r"\n' + ONE, "conflicts[0] (a).message: missing"),
    (HEAD + '[[conflicts]]\nrule = "a"\nmessage = "m"\n' + ONE, "conflicts[0] (a).remedy: missing"),
    (RULE + "", "conflicts[0] (a).when: expected a non-empty list"),
    (RULE + "when = []\n", "conflicts[0] (a).when: expected a non-empty list"),
    (RULE + 'when = ["numpy>=2"]\n', "when[0]: expected a table"),
    (RULE + 'when = [{version = ">=2"}]\n', "when[0]: needs package"),
    (
        RULE + 'when = [{package = "a", version = "2"}]\n',
        "when[0].version: '2' is not a version specifier",
    ),
    (
        RULE + 'when = [{package = "a", verison = ">=2"}]\n',
        "when[0].verison: unknown condition key",
    ),
    (RULE + "when = [{package = []}]\n", "when[0].package: expected a name or a list"),
    (RULE + 'when = [{package = "a", absent = false}]\n', "when[0].absent: expected true"),
    (
        RULE + 'when = [{package = "a", absent = true, version = ">1"}]\n',
        "absent cannot be combined",
    ),
    (RULE + 'when = [{package = "a", violates = "pin"}]\n', "when[0].violates: expected"),
    (
        RULE + 'when = [{torch_cuda = "12"}]\n',
        "when[0].torch_cuda: '12' is not a version specifier",
    ),
    (RULE + 'severity = "fatal"\n' + ONE, "severity: 'fatal' is not one of"),
    (RULE + 'fix = "pray"\n' + ONE, "fix: 'pray' is not one of"),
    (RULE + 'backend = ["vulkan"]\n' + ONE, "backend: expected a list of backends"),
    (RULE + 'torch = "cuda"\n' + ONE, "torch: expected a list of backends"),
    (RULE + 'restart = "yes"\n' + ONE, "restart: expected true or false"),
    (RULE + 'when = [{package = "a"}]\nnote = "x"\n', "(a).note: unknown key"),
    (HEAD + "[python\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "problem"), BAD, ids=[p for _, p in BAD])
def test_validate_names_file_key_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = invoke("manifests", "validate", str(path))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"{path}: ") for line in lines)
    assert any(problem in line for line in lines), lines
    assert "Traceback" not in result.output


def test_validate_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    result = invoke(
        "manifests", "validate", str(binary), str(tmp_path / "nope.toml"), str(tmp_path)
    )
    assert result.exit_code == 2
    assert f"{binary}: not UTF-8 text" in result.stderr
    assert "nope.toml: no such manifest file" in result.stderr
    assert f"{tmp_path}: is a folder" in result.stderr


def test_validate_missing_include(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(HEAD + 'include = ["rules/nothere.toml"]\n')
    result = invoke("manifests", "validate", str(path))
    assert result.exit_code == 2
    assert f"{path}: include: no such rules file 'rules/nothere.toml'" in result.stderr


def test_validate_bad_rule_in_included_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(
        'schema = 1\n[[conflicts]]\nrule = "r"\nmessage = "m"\nremedy = "x"\nwhen = [{}]\n'
    )
    path = tmp_path / "m.toml"
    path.write_text(HEAD + 'include = ["rules/r.toml"]\n')
    result = invoke("manifests", "validate", str(path))
    assert result.exit_code == 2
    assert "r.toml: conflicts[0] (r).when[0]: needs package" in result.stderr


def test_shipped_manifests_and_rules_are_valid() -> None:
    files = sorted(SHIPPED.glob("*.toml")) + sorted((SHIPPED / "rules").glob("*.toml"))
    assert {p.stem for p in SHIPPED.glob("*.toml")} >= {
        "a1111",
        "sdnext",
        "forge",
        "amdgpu",
        "comfyui",
        "generic",
    }
    result = invoke("manifests", "validate", *map(str, files))
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": ok") == len(files)


@pytest.mark.parametrize("name", ["a1111", "sdnext", "forge", "amdgpu", "comfyui"])
def test_shipped_manifest_holds_what_the_issue_asks(name: str) -> None:
    m = manifests.load(name)
    assert m.repository_url and m.repository_url.startswith("https://github.com/")
    assert m.get("repository.branch")
    assert m.get("detect.all") and m.get("detect.any")
    assert m.venv_dirs and m.python_supported and m.python_recommended
    assert m.requirement_files and m.user_data and m.restart_packages
    assert "models" in m.user_data
    assert m.torch_backends and all(m.torch_for(b)["packages"] for b in m.torch_backends)
    rules = {r["rule"] for r in m.conflicts}
    assert {
        "numpy2-opencv-numpy1",
        "accelerate-too-old-transformers",
        "xformers-torch-mismatch",
        "protobuf4-generated-for-3",
    } <= rules


def test_a1111_family_keeps_pkg_resources_rule() -> None:
    for name in ("a1111", "forge", "amdgpu"):
        rules = {r["rule"] for r in manifests.load(name).conflicts}
        assert "setuptools-without-pkg-resources" in rules
    assert "setuptools-without-pkg-resources" not in {
        r["rule"] for r in manifests.load("comfyui").conflicts
    }


def test_list_and_show() -> None:
    result = invoke("manifests", "list")
    assert result.exit_code == 0
    for name in ("a1111", "sdnext", "forge", "amdgpu", "comfyui", "generic"):
        assert name in result.stdout
    result = invoke("manifests", "list", "--json")
    data = json.loads(result.stdout)
    assert {r["name"] for r in data["manifests"]} >= {"a1111", "comfyui"}
    result = invoke("manifests", "show", "amdgpu")
    assert result.exit_code == 0
    assert "torch directml" in result.stdout and "numpy2-opencv-numpy1" in result.stdout
    result = invoke("manifests", "show", "forge", "--json")
    data = json.loads(result.stdout)
    assert data["name"] == "forge" and data["conflicts"]


def test_show_unknown_is_one_line_exit_2() -> None:
    from repair.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["manifests", "show", "nosuchapp"])
    assert exc.value.code == 2


def test_user_manifest_from_config_folder(tmp_path: Path) -> None:
    from platformdirs import user_config_dir

    folder = Path(user_config_dir("webui-repair", appauthor=False)) / "manifests"
    folder.mkdir(parents=True)
    (folder / "myui.toml").write_text(
        'schema = 1\nname = "myui"\ntitle = "My UI"\ninclude = ["rules/common.toml"]\n'
        '[detect]\nall = ["myui.py"]\n'
    )
    result = invoke("manifests", "list", "--json")
    rows = {r["name"]: r for r in json.loads(result.stdout)["manifests"]}
    assert rows["myui"]["origin"] == "user"
    # The shared rules resolve from the shipped folder.
    assert manifests.load("myui").conflicts
    app = tmp_path / "app"
    app.mkdir()
    (app / "myui.py").write_text("")
    assert manifests.detect(app).name == "myui"


def test_user_manifest_by_path(tmp_path: Path) -> None:
    path = tmp_path / "own.toml"
    path.write_text('schema = 1\nname = "own"\ntitle = "Own"\n')
    result = invoke("manifests", "show", str(path))
    assert result.exit_code == 0 and "own: Own" in result.stdout
