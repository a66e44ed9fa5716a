locals {
  hosted_zone = coalesce(var.hosted_zone, replace(var.domain, "/^[^.]+\\./", ""))
  # A name for resources that allow only letters, digits, '-' and '_'.
  name = "s3pypi-${replace(var.domain, ".", "-")}"
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}
