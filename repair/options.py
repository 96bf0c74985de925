"""What a command was asked to do, typed and frozen: the command line builds these (``repair.cli``,
one constructor per command) and the commands, the context and the checks read their fields. The
defaults are those of a plain run (no option given).

- ``IndexOptions``: the package sources passed through to the installer;
- ``CheckOptions``: what ``repair check`` (and every check) reads;
- ``RepairOptions``: the repair pipeline's, a ``CheckOptions`` (the pipeline checks first);

Which install a command works on is ``selection.InstallSelection``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class IndexOptions:
    """``--index-url``, ``--extra-index-url``, ``--find-links``, ``--offline``."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    offline: bool = False

    def pip_args(self) -> list[str]:
        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.offline:
            args.append("--no-index")
        return args


@dataclass(frozen=True)
class CheckOptions:
    """The options every check can read (``Context.options``)."""

    backend: str | None = None  # --backend; None: the machine's (probed when needed)
    index: IndexOptions = IndexOptions()
    verify_files: bool = False  # hash every file against its RECORD
    jobs: int | None = None  # threads for --verify-files (None: the default)
    deep: bool = False  # import the key modules in the venv's python
    deep_timeout: float | None = None  # seconds (None: checks.deep's default)
    online: bool = False  # the index preflight
    pre_update: bool = False  # predict what an update would change
    fetch_timeout: float | None = None  # seconds for --pre-update's fetch (None: the default)
    before_install: str | None = None  # a node's folder, requirements file or requirements
    write_constraints: str | None = None  # with before_install: where the constraints go
    log: str | None = None  # a crash log to diagnose beside the checks
    strict: bool = False  # warnings fail too


# The names a check can be gated on (``checks.registry.check(option=...)``).
CHECK_OPTIONS = frozenset(f.name for f in fields(CheckOptions))


@dataclass(frozen=True)
class RepairOptions(CheckOptions):
    """The repair pipeline's options (``repair`` with no command)."""

    dry_run: bool = False  # print the plan, change nothing
    yes: bool = False  # no prompt
    force: bool = False  # go on when the preflight says the plan cannot finish
    clean_venv: bool = False  # recreate the venv
    no_reuse: bool = False  # a new venv installs every distribution from the index
    fresh: bool = False  # a new venv resolves anew rather than bring back the old versions
    reinstall: bool = False  # reinstall every requirement
    reclone: bool = False  # reclone the repository, keeping user data
    ref: str | None = None  # with reclone: the commit, branch or tag
    repo_url: str | None = None  # with reclone: the URL
    python: str | None = None  # the interpreter of a recreated venv (path or X.Y)
    installer: str | None = None  # "pip" or "uv"; None: uv for a venv made by uv, when here

    @classmethod
    def of(cls, options: CheckOptions) -> RepairOptions:
        """The pipeline's options of a context: its own, or, for a context made for a check
        (``repair report``'s plan), those of a plain ``repair``."""
        return options if isinstance(options, RepairOptions) else cls()
