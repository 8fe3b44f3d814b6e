"""The scenario files that ship with refractory (the repository's scenarios/ folder).

They are installed as the data package ``refractory.scenarios``, so lessons and benchmark
workloads are found the same way from an editable install and from a wheel.
"""

from pathlib import Path


def scenarios_folder() -> Path:
    """The folder holding lessons/, benchmarks/, treatment/, papers/ and the example files."""
    from refractory import scenarios

    return Path(scenarios.__file__).parent
