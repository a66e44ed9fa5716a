"""`hatch publish -p s3pypi`: the Hatch publisher plugin, a thin front end of `s3pypi_core`."""
