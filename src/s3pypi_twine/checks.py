"""What `twine upload` and `twine check` refuse, checked before anything is written."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from s3pypi_core.distribution import Distribution
from s3pypi_core.exceptions import InvalidDistribution


def check_distribution(path: Path) -> None:
    """Raise `InvalidDistribution` when s3pypi, `twine upload` or `twine check` would refuse it.

    s3pypi's own reading comes first: its messages say best what is wrong with a file that is
    not a distribution at all. Then twine's, through the very function `twine check` runs:
    twine's `PackageFile` (its metadata checks) and the rendering of the long description.
    """
    from twine.commands import check as twine_check
    from twine.exceptions import TwineException

    Distribution.read(path)
    report = twine_check._WarningStream()
    try:
        _warnings, renders = twine_check._check_file(str(path), report)
    except TwineException as e:
        raise InvalidDistribution(f"{path}: {_one_line(str(e))}") from e
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as e:
        raise InvalidDistribution(f"{path}: twine cannot read it ({e})") from e
    if not renders:
        raise InvalidDistribution(
            f"{path}: `long_description` has syntax errors in markup and would not be rendered "
            f"on PyPI ({_one_line(str(report), sep='; ')}); see `twine check {path}`"
        )


def _one_line(text: str, sep: str = " ") -> str:
    return sep.join(line.strip() for line in text.splitlines() if line.strip())
