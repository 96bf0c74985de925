"""Fixtures of the integration tests that build git repositories (see tests/gitkit.py)."""

from __future__ import annotations

from tests.gitkit import git_install, git_install_novenv  # noqa: F401 - fixtures
