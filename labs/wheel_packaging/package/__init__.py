"""A tiny PyTorch-trained model packaged as a Python library: ``from <package> import predict``."""

from importlib.metadata import PackageNotFoundError, version

from .model import BACKEND, load, predict

try:
    __version__ = version(__name__)  # the version in pyproject.toml, read from the installed metadata
except PackageNotFoundError:  # imported from a source checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["BACKEND", "__version__", "load", "predict"]
