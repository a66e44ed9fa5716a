#!/usr/bin/env python3
"""Move an index from `NAME/index.html` pages to `NAME/` pages (the default layout).

    python scripts/migrate-s3-index.py my-pypi-bucket [--prefix P] [--yes]

s3pypi 2.x offered this script for buckets published with `--index.html`, whose pages its
CloudFront could not reach. This version rebuilds the pages in the default layout with
`s3pypi reindex` (keeping every hash and upload time the old pages knew, and adding the JSON
pages and `.metadata` files), checks the result, and only then deletes the old
`NAME/index.html` pages, after asking. The CloudFront Function of the Terraform module serves
either layout (`index_html = true`), so this is optional.
"""

from __future__ import annotations

import argparse
import sys

from s3pypi_core.core import Config, reindex, verify_index
from s3pypi_core.exceptions import S3PyPIError
from s3pypi_core.storage import S3Config


def old_pages(cfg: Config) -> list[str]:
    """The keys of `NAME/index.html` pages (and of `P/index.html`, the root page of a prefix).

    Without a prefix the root page is `index.html` in both layouts: it stays.
    """
    storage = cfg.open_storage()
    return [o.key for o in storage.list(cfg.layout.files_prefix()) if o.key.endswith("/index.html")]


def confirm(prompt: str) -> bool:
    answer = input(f"{prompt}\nOnly 'yes' will be accepted to confirm.\n\nEnter a value: ")
    return answer == "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bucket", help="S3 bucket name")
    parser.add_argument("--prefix", help="key prefix of the index in the bucket")
    parser.add_argument("--yes", action="store_true", help="delete the old pages without asking")
    args = parser.parse_args()
    cfg = Config(s3=S3Config(bucket=args.bucket, prefix=args.prefix))
    try:
        stale = old_pages(cfg)
        if not stale:
            print("No `NAME/index.html` pages found. Nothing to migrate.")
            return
        for change in reindex(cfg):
            print(change)
        if problems := verify_index(cfg, hashes=False):
            for problem in problems:
                print(problem, file=sys.stderr)
            sys.exit("The new pages are not right yet: the old ones are kept.")
        storage = cfg.open_storage()
        print(f"\nThe pages are now at NAME/. {len(stale)} old page(s) can be deleted:")
        for key in stale:
            print(f"  {storage.url(key)}")
        if not (args.yes or confirm("\nDelete the old pages listed above?")):
            print("Kept the old pages.")
            return
        for key in stale:
            storage.delete(key)
        print("Deleted the old pages.")
    except S3PyPIError as e:
        sys.exit(f"migrate-s3-index: error: {e}")


if __name__ == "__main__":
    main()
