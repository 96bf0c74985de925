"""Real git repositories for the tests: a bare upstream, a working copy that pushes to it (the
"maintainer"), and a clone of it as the install, with user data of every kind. Git identity and
configuration are pinned; HOME is already isolated by the conftest."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit import copy_venv

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(IDENTITY)
    proc = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test Author",
            "-c",
            "user.email=author@example.invalid",
            "-c",
            "init.defaultBranch=master",
            "-c",
            "advice.detachedHead=false",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def commit_files(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Write (or delete, for None) files in ``repo``, commit, push; return the new commit."""
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    git(repo, "push", "-q", "origin", "HEAD")
    return git(repo, "rev-parse", "HEAD")


def make_upstream(base: Path, name: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A bare repository and a maintainer's working copy with one commit of ``files``."""
    bare = base / f"{name}.git"
    git(base, "init", "-q", "--bare", str(bare))
    seed = base / f"{name}-seed"
    git(base, "clone", "-q", str(bare), str(seed))
    commit_files(seed, files, "initial")
    return bare, seed


APP_FILES = {
    "launch.py": "print('launching')\n",
    "webui.py": "import modules.shared\n",
    "modules/__init__.py": "",
    "modules/shared.py": "OPTS = {}\n",
    "requirements.txt": "numpy==1.26.4\naccelerate==1.2.0\ntransformers==4.40.0\nsafetensors\n"
    "einops\n",
    "models/Stable-diffusion/Put checkpoints here.txt": "",
    "extensions/put extensions here.txt": "",
    ".gitignore": "__pycache__/\n*.ckpt\n*.safetensors\n/venv\n/outputs\n/config.json\n"
    "/cache.json\n/repositories\n",
}

# Every kind of user data, relative to the install: (path, content).
USER_FILES = {
    "models/Stable-diffusion/model.safetensors": b"\x00weights" * 1000,  # ignored, tracked folder
    "models/Lora/style.safetensors": b"\x01lora" * 500,  # ignored, in an untracked folder
    "models/VAE/old.ckpt": b"\x02pickle" * 100,
    "outputs/txt2img/00001.png": b"\x89PNG fake image",  # ignored folder
    "config.json": '{"sd_model_checkpoint": "model.safetensors"}\n',  # ignored file
    "styles.csv": "name,prompt\nmine,a cat\n",  # untracked, not ignored
    "embeddings/cat.pt": b"\x03emb",  # untracked folder
    "scripts/my_script.py": "# my own script\n",  # untracked
    "modules/__pycache__/shared.cpython-310.pyc": b"\x04pyc",  # ignored under tracked
}

MANIFEST = """schema = 1
name = "gitapp"
title = "A test web UI in git"

[repository]
url = "{url}"
branch = "master"

[venv]
dirs = ["venv"]

[requirements]
files = ["requirements.txt"]

[user_data]
paths = ["models", "outputs", "extensions", "embeddings", "config.json", "styles.csv"]

[extensions]
paths = ["extensions"]

[restart]
packages = ["accelerate"]
"""


@dataclass
class GitInstall:
    root: Path  # the install (a clone of upstream)
    upstream: Path  # the bare upstream
    seed: Path  # the maintainer's working copy (commits here reach upstream)
    manifest: Path
    ext_upstream: Path
    ext_seed: Path

    @property
    def ext(self) -> Path:
        return self.root / "extensions" / "ext-a"

    def head(self) -> str:
        return git(self.root, "rev-parse", "HEAD")


def build_git_install(base: Path, venv_template: Path | None) -> GitInstall:
    base.mkdir(parents=True, exist_ok=True)
    upstream, seed = make_upstream(base, "app", dict(APP_FILES))
    ext_upstream, ext_seed = make_upstream(
        base, "ext-a", {"scripts/ext.py": "X = 1\n", "install.py": "pass\n"}
    )
    root = base / "app"
    git(base, "clone", "-q", str(upstream), str(root))
    git(root / "extensions", "clone", "-q", str(ext_upstream), "ext-a")
    (root / "extensions" / "ext-a" / "settings.json").write_text('{"mine": true}\n')
    for rel, data in USER_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    if venv_template is not None:
        copy_venv(venv_template, root / "venv")
    manifest = base / "gitapp.toml"
    manifest.write_text(MANIFEST.format(url=str(upstream)))
    return GitInstall(root, upstream, seed, manifest, ext_upstream, ext_seed)


@pytest.fixture
def git_install(tmp_path: Path, template_app_venv: Path) -> GitInstall:
    return build_git_install(tmp_path / "w", template_app_venv)


@pytest.fixture
def git_install_novenv(tmp_path: Path) -> GitInstall:
    return build_git_install(tmp_path / "w", None)


def tree_hashes(root: Path, *, skip: tuple[str, ...] = (".git",)) -> dict[str, str]:
    """sha256 of every file under ``root`` (links as their target text), ``.git`` folders out."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = "link:" + os.readlink(path)
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def corrupt_object(repo: Path, rev: str) -> Path:
    """Overwrite the loose object of ``rev`` (a commit or tree) with garbage."""
    sha = git(repo, "rev-parse", rev)
    path = repo / ".git" / "objects" / sha[:2] / sha[2:]
    if not path.exists():
        git(repo, "unpack-objects", check=False)
        raise AssertionError(f"{rev} is not a loose object")
    path.unlink()  # a local clone hard-links objects: never write through to upstream's copy
    path.write_bytes(b"garbage, not zlib")
    return path


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
