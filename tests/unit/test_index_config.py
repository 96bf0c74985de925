from __future__ import annotations

import os
from pathlib import Path

import pytest

from repair.index.config import PYPI_SIMPLE, config_file_locations, load_pip_config
from repair.options import IndexOptions


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with its own home and no PIP_* variables."""
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config")}


def load(env: dict[str, str], tmp_path: Path, **kw: object):
    return load_pip_config(environ=env, global_dirs=[tmp_path / "etc"], platform="linux", **kw)


def test_defaults_when_nothing_is_configured(home, tmp_path):
    cfg = load(home, tmp_path)
    assert cfg.index_urls == (PYPI_SIMPLE,)
    assert cfg.find_links == () and not cfg.no_index
    assert cfg.timeout == 15.0 and cfg.retries == 5
    assert cfg.source_of("index_url") == "default"
    assert cfg.files == ()


def test_files_in_order_global_user_site_and_install_section_wins(home, tmp_path):
    g = _write(
        tmp_path / "etc" / "pip.conf",
        "[global]\nindex-url = https://global.example/simple\ntimeout = 30\n",
    )
    u = _write(
        Path(home["XDG_CONFIG_HOME"]) / "pip" / "pip.conf",
        "[global]\nindex-url = https://user.example/simple\n"
        "extra-index-url =\n    https://a.example/simple\n    https://b.example/simple\n"
        "[install]\nretries = 2\n",
    )
    venv = tmp_path / "venv"
    s = _write(
        venv / "pip.conf",
        "[global]\nindex-url = https://site.example/simple\n[install]\nfind-links = /wheels\n",
    )
    cfg = load(home, tmp_path, venv=venv)
    assert cfg.files == (g, u, s)
    assert cfg.index_url == "https://site.example/simple"
    assert cfg.source_of("index_url") == f"{s} [global]"
    assert cfg.extra_index_urls == ("https://a.example/simple", "https://b.example/simple")
    assert cfg.timeout == 30.0 and cfg.retries == 2
    assert cfg.source_of("retries") == f"{u} [install]"
    assert cfg.find_links == ("/wheels",)


def test_install_section_overrides_global_of_a_later_file(home, tmp_path):
    _write(tmp_path / "etc" / "pip.conf", "[install]\nindex-url = https://install.example/s\n")
    _write(
        Path(home["XDG_CONFIG_HOME"]) / "pip" / "pip.conf",
        "[global]\nindex-url = https://global.example/s\n",
    )
    assert load(home, tmp_path).index_url == "https://install.example/s"


def test_legacy_user_file_is_read(home, tmp_path):
    _write(Path(home["HOME"]) / ".pip" / "pip.conf", "[global]\nno-index = yes\n")
    assert load(home, tmp_path).no_index


def test_env_variables_override_files(home, tmp_path):
    _write(tmp_path / "etc" / "pip.conf", "[global]\nindex-url = https://file.example/s\n")
    env = dict(
        home,
        PIP_INDEX_URL="https://env.example/s",
        PIP_EXTRA_INDEX_URL="https://x.example/s https://y.example/s",
        PIP_FIND_LINKS="/w1 /w2",
        PIP_TRUSTED_HOST="x.example",
        PIP_CERT="/ca.pem",
        PIP_CLIENT_CERT="/client.pem",
        PIP_PROXY="http://proxy:3128",
        PIP_DEFAULT_TIMEOUT="7",
        PIP_RETRIES="1",
    )
    cfg = load(env, tmp_path)
    assert cfg.index_urls == ("https://env.example/s", "https://x.example/s", "https://y.example/s")
    assert cfg.find_links == ("/w1", "/w2")
    assert cfg.trusted_hosts == ("x.example",)
    assert (cfg.cert, cfg.client_cert, cfg.proxy) == ("/ca.pem", "/client.pem", "http://proxy:3128")
    assert cfg.timeout == 7.0 and cfg.retries == 1
    assert cfg.source_of("index_url") == "PIP_INDEX_URL"
    assert cfg.source_of("timeout") == "PIP_DEFAULT_TIMEOUT"


def test_pip_timeout_wins_over_default_timeout_alias(home, tmp_path):
    cfg = load(dict(home, PIP_DEFAULT_TIMEOUT="7", PIP_TIMEOUT="9"), tmp_path)
    assert cfg.timeout == 9.0


def test_no_index_from_env_drops_every_index(home, tmp_path):
    cfg = load(dict(home, PIP_NO_INDEX="1", PIP_FIND_LINKS="/w"), tmp_path)
    assert cfg.no_index and cfg.index_urls == () and cfg.find_links == ("/w",)


def test_pip_config_file_devnull_reads_no_file(home, tmp_path):
    _write(tmp_path / "etc" / "pip.conf", "[global]\nindex-url = https://file.example/s\n")
    cfg = load(dict(home, PIP_CONFIG_FILE=os.devnull), tmp_path)
    assert cfg.files == () and cfg.index_url == PYPI_SIMPLE


def test_pip_config_file_replaces_the_user_file(home, tmp_path):
    _write(Path(home["XDG_CONFIG_HOME"]) / "pip" / "pip.conf", "[global]\nretries = 9\n")
    own = _write(tmp_path / "own.conf", "[global]\nindex-url = https://own.example/s\n")
    cfg = load(dict(home, PIP_CONFIG_FILE=str(own)), tmp_path)
    assert cfg.files == (own,) and cfg.retries == 5
    assert cfg.index_url == "https://own.example/s"


def test_options_and_requirements_file_options(home, tmp_path):
    env = dict(home, PIP_EXTRA_INDEX_URL="https://env-extra.example/s")
    cfg = load(
        env,
        tmp_path,
        index=IndexOptions(
            "https://opt.example/s", ("https://opt-extra.example/s",), ("/opt-wheels",)
        ),
    )
    assert cfg.index_urls == (
        "https://opt.example/s",
        "https://env-extra.example/s",
        "https://opt-extra.example/s",
    )
    assert cfg.source_of("index_url") == "--index-url"
    # a requirements file's --index-url replaces every index, then its extras add
    cfg = load(
        env,
        tmp_path,
        requirements_options={
            "index_url": "https://req.example/s",
            "extra_index_urls": ["https://req-x.example/s"],
            "find_links": ["/req-wheels"],
        },
        requirements_source="requirements.txt",
    )
    assert cfg.index_urls == ("https://req.example/s", "https://req-x.example/s")
    assert cfg.source_of("index_url") == "requirements.txt"
    assert cfg.find_links == ("/req-wheels",)
    assert load(env, tmp_path, requirements_options={"no_index": True}).index_urls == ()


def test_offline_option_is_recorded(home, tmp_path):
    cfg = load(home, tmp_path, index=IndexOptions(offline=True))
    assert cfg.offline and cfg.source_of("offline") == "--offline"


def test_bad_values_and_unreadable_files_are_problems_not_crashes(home, tmp_path):
    _write(tmp_path / "etc" / "pip.conf", "this is [not ini\n")
    cfg = load(dict(home, PIP_TIMEOUT="soon", PIP_NO_INDEX="maybe"), tmp_path)
    assert len(cfg.problems) == 3
    assert cfg.timeout == 15.0 and not cfg.no_index


def test_credentials_are_redacted_in_origins(home, tmp_path):
    cfg = load(dict(home, PIP_INDEX_URL="https://me:tok3n@private.example/simple"), tmp_path)
    assert cfg.index_url == "https://me:tok3n@private.example/simple"  # pip needs them
    assert "tok3n" not in str(cfg.to_json())


def test_windows_and_macos_locations(tmp_path):
    env = {
        "USERPROFILE": str(tmp_path / "u"),
        "APPDATA": str(tmp_path / "u" / "AppData"),
        "PROGRAMDATA": str(tmp_path / "pd"),
    }
    win = config_file_locations(environ=env, platform="win32", venv=tmp_path / "venv")
    assert win["global"] == [tmp_path / "pd" / "pip" / "pip.ini"]
    assert win["user"] == [
        tmp_path / "u" / "pip" / "pip.ini",
        tmp_path / "u" / "AppData" / "pip" / "pip.ini",
    ]
    assert win["site"] == [tmp_path / "venv" / "pip.ini"]
    mac = config_file_locations(environ={"HOME": str(tmp_path)}, platform="darwin")
    assert mac["global"] == [Path("/Library/Application Support/pip/pip.conf")]
    assert mac["user"][1] == tmp_path / ".config" / "pip" / "pip.conf"
    lin = config_file_locations(
        environ={"HOME": str(tmp_path), "XDG_CONFIG_DIRS": "/a:/b"}, platform="linux"
    )
    assert lin["global"] == [
        Path("/a/pip/pip.conf"),
        Path("/b/pip/pip.conf"),
        Path("/etc/pip.conf"),
    ]
