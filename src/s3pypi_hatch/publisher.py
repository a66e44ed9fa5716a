"""`hatch publish -p s3pypi`: publish a project's build artifacts to an index in S3."""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any

from hatch.publish.plugin.interface import PublisherInterface

from s3pypi_core.distribution import EXTENSIONS, Distribution
from s3pypi_core.exceptions import InvalidDistribution, S3PyPIError
from s3pypi_core.publishing import UploadObserver, upload_packages
from s3pypi_hatch.options import Settings, parse

DEFAULT_ARTIFACTS = "dist"
"""Where `hatch build` writes, and so what is published when no artifact is named."""


class S3PyPIPublisher(PublisherInterface):
    PLUGIN_NAME = "s3pypi"

    def publish(self, artifacts: list[str], options: dict[str, Any]) -> None:
        try:
            settings = Settings.merge(
                parse(self.plugin_config, "[publish.s3pypi] of Hatch's config"),
                parse(self.project_config, "[tool.hatch.publish.s3pypi]"),
                parse(options, "the -o options"),
            )
            cfg = settings.config()
            paths = self._find_artifacts(artifacts)
            result = upload_packages(
                cfg,
                paths,
                put_root_index=settings.put_root_index,
                strict=settings.strict,
                force=settings.force,
                observer=_HatchObserver(self.app, Path(self.root)),
            )
        except S3PyPIError as e:
            self.app.display_debug(traceback.format_exc())
            self.app.abort(str(e))
            return
        if result.pages:
            self.app.display_info()
            for page in sorted(result.pages):
                self.app.display_info(page)

    def _find_artifacts(self, artifacts: list[str]) -> list[Path | str]:
        """Files as named; the distributions in a directory (`dist/` when none is named).

        Relative paths are relative to the project, as for Hatch's own publisher.
        """
        found: list[Path | str] = []
        for artifact in artifacts or [DEFAULT_ARTIFACTS]:
            path = Path(artifact)
            if not path.is_absolute():
                path = Path(self.root) / path
            if path.is_dir():
                found += sorted(p for p in path.iterdir() if p.name.endswith(EXTENSIONS))
            else:
                found.append(path)  # a file, or a pattern the core expands
        if not found:
            raise InvalidDistribution(
                f"no artifacts found in {', '.join(artifacts or [DEFAULT_ARTIFACTS])}"
            )
        return found


class _HatchObserver(UploadObserver):
    """One line per file, as Hatch's own publisher writes them: `dist/x.whl ... success`."""

    def __init__(self, app: Any, root: Path) -> None:
        self.app = app
        self.root = root
        self._lock = threading.Lock()  # files finish in parallel; keep each line whole

    def starting(self, dist: Distribution) -> None:
        self.app.display_debug(f"Uploading {dist.path}")

    def finished(self, dist: Distribution) -> None:
        with self._lock:
            self.app.display_info(f"{self._shown(dist.path)} ...", end=" ")
            self.app.display_success("success")

    def skipped(self, dist: Distribution, reason: str) -> None:
        with self._lock:
            self.app.display_info(f"{self._shown(dist.path)} ...", end=" ")
            self.app.display_warning("already exists")

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)
