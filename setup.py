"""Package layout; the metadata lives in pyproject.toml.

The repository's top-level ``experiments/`` folder is the source of truth for the experiments;
it ships inside the wheel as ``initjax/experiments`` so that ``initjax run --list`` finds them
after a plain (non-editable) ``pip install`` from any working directory.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["initjax", "initjax.*"]), "initjax.experiments"],
    package_dir={"initjax.experiments": "experiments"},
)
