"""The install and what it is, read from its own folder: the target (application folder, venv,
manifest), the manifests, the requirements files and custom nodes, launch arguments, git."""
