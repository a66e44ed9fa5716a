"""The keys of the human view that a publish writes next to the simple API."""

from __future__ import annotations

from s3pypi_core.browse import assets


def view_keys(prefix: str = "", **projects: list[str]) -> list[str]:
    """The view's own files and root page, and each project's page and PyPI JSON documents
    (`hello_world=["1.0.0", "1.1"]`: keyword names with `_` for `-`)."""
    base = f"{prefix}/" if prefix else ""
    keys = [f"{base}browse.html", *(f"{base}{name}" for name in assets())]
    for name, versions in projects.items():
        project = name.replace("_", "-")
        keys += [f"{base}{project}/browse.html", f"{base}{project}/json"]
        keys += [f"{base}{project}/{version}/json" for version in versions]
    return sorted(keys)
