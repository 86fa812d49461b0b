"""The version of autoimb (read by the build, ``pyproject.toml``)."""

__version__ = "0.1.0"
