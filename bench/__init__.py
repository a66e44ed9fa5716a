"""The benchmark against s3pypi 2.x: `python bench/run.py`."""
