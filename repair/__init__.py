"""webui-repair: make the Python environments of Stable Diffusion web UIs healthy again."""

__version__ = "0.1.0"
