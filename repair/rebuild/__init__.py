"""The rebuild core: a new venv built from what the old one held (reusing its files), and a fresh
checkout of the application when the old one is damaged. Used by the repair pipeline
(``--clean-venv`` and the findings that need a new venv) and by ``repair install``.

- ``python``: the interpreter the new venv is built on, with the reason for it;
- ``torch``: the torch build (kept, or changed with a reason) and the index that serves it;
- ``workingset``: the distributions the new venv holds at their old versions, and what moves;
- ``reuseplan``: which of them come from the old venv's files rather than an installer;
- ``reuse``: linking those files from the backup into the new venv;
- ``build``: creating the venv and installing torch and the set;
- ``verify``: the index preflight before the build, and the new venv against the planned set;
- ``reclone``: a new checkout of the application, keeping user data.
"""
