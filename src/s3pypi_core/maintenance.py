"""Maintenance: `verify` finds what is wrong with an index, `reindex` rebuilds its pages, and
`force_unlock` releases a lock left by a killed publisher.

`verify` and `reindex` start from an inventory of the objects (one listing) and compare it
with the pages; `reindex` changes pages only through the compare-and-swap of publishing, so it
can run while others publish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from s3pypi_core import __prog__, _aws
from s3pypi_core._inventory import check_index_is_there, take_inventory
from s3pypi_core._reindex import Change
from s3pypi_core._reindex import reindex as _reindex
from s3pypi_core._verify import Problem
from s3pypi_core._verify import verify as _verify
from s3pypi_core.config import Config
from s3pypi_core.locking import force_unlock as _force_unlock

__all__ = ["Change", "Problem", "force_unlock", "reindex", "verify_index"]

log = logging.getLogger(__prog__)


def verify_index(
    cfg: Config, names: Iterable[str] = (), *, hashes: bool = True, deep: bool = False
) -> list[Problem]:
    """What is wrong with the index (or the named projects); an empty list when nothing is.

    Pages are checked against the objects: entries without files, files on no page, sizes,
    `.metadata` files, damaged pages, HTML and JSON pages that disagree, the root page,
    leftovers of killed publishers (a local directory). With `hashes` (the default) every
    listed distribution is also downloaded, streamed, to check its sha256, and files on no page
    are read in full. With `deep`, every distribution is read in full as publishing reads it
    (`invalid-file` for a damaged archive). Metadata is read up to `cfg.max_metadata_size`.

    Raises `NotFound` when there is no index at the location (naming the prefix where one
    seems to be, when the index is one level down).
    """
    return _verify(
        cfg.open_storage(),
        cfg.layout,
        names,
        hashes=hashes,
        deep=deep,
        max_metadata_size=cfg.max_metadata_size,
    )


def reindex(
    cfg: Config, names: Iterable[str] = (), *, rehash: bool = False, put_root_index: bool = False
) -> list[Change]:
    """Rebuild the pages of the index (or of the named projects) from the objects in it.

    Every distribution is listed, entries whose file is gone are dropped, missing `.metadata`
    files are written, and what the pages know (hashes, upload times, yanks) is kept. This also
    upgrades a bucket written by s3pypi 2.x in place. A file whose record is complete is not
    downloaded, unless `rehash` (after `verify` found a hash mismatch). With `put_root_index`,
    the root page is written if the index has none. What the human view needs and an older
    bucket lacks (PyPI's JSON documents with the READMEs, browse pages) is written too. With
    `cfg.dry_run`, nothing is written and the changes returned are the ones it would make.

    It mends what `verify` reports and never stops at one bad object: a damaged page is rebuilt
    from the other form of the page and the objects; a file that is no sound distribution is
    taken off the page (pip cannot install it) and kept in the store; a file whose metadata is
    larger than `cfg.max_metadata_size` is left as it is; leftovers of killed publishers older
    than `LEFTOVER_AGE` are removed. What it could not do is a `Change` with `failed`.
    """
    # Where there is no index, refused before the publisher checks the store (which writes).
    storage = cfg.open_storage()
    inventory = take_inventory(storage, cfg.layout)
    check_index_is_there(inventory, storage, cfg.layout)
    return _reindex(
        cfg.publisher(),
        names,
        rehash=rehash,
        put_root_index=put_root_index,
        max_metadata_size=cfg.max_metadata_size,
        inventory=inventory,
    )


def force_unlock(cfg: Config, table: str, lock_id: str) -> None:
    """Release a DynamoDB lock left by a publisher that was killed."""
    s3 = cfg.s3
    _force_unlock(
        _aws.session(s3.profile if s3 else None, s3.region if s3 else None), table, lock_id
    )
    log.info("Released lock %s", lock_id)
