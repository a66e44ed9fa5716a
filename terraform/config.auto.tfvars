region = "eu-west-1"
bucket = "my-pypi-bucket"
domain = "pypi.example.com"
