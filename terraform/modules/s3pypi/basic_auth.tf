# Optional HTTP basic auth: a Lambda@Edge viewer-request function (Python) that checks the
# users in SSM Parameter Store, /s3pypi/DOMAIN/users/USER, then routes the request like the
# CloudFront Function (which it replaces: one viewer-request function per cache behavior).
#
# Lambda@Edge has no environment variables, so the settings are baked into the package as
# config.json. The package is auth_lambda/handler.py with s3pypi_core's auth.py and routing.py
# (standard library only), from this repository: a module fetched with the
# `github.com/...//terraform/modules/s3pypi` syntax comes with the whole repository.

locals {
  repository_root = "${path.module}/../../.."

  basic_auth_config = {
    domains    = [var.domain]
    region     = var.basic_auth_users_region
    cache_ttl  = var.basic_auth_cache_ttl
    index_html = var.index_html
  }

  users_parameters_arn = "arn:${data.aws_partition.current.partition}:ssm:${var.basic_auth_users_region}:${data.aws_caller_identity.current.account_id}:parameter/s3pypi/${var.domain}/users/*"
  # Lambda@Edge logs in the region that served the request, as /aws/lambda/us-east-1.NAME.
  log_groups_arn_prefix = "arn:${data.aws_partition.current.partition}:logs:*:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda"
}

data "archive_file" "basic_auth" {
  count = var.enable_basic_auth ? 1 : 0

  type        = "zip"
  output_path = "${path.root}/.terraform/s3pypi/${local.name}-basic-auth.zip"

  source {
    filename = "handler.py"
    content  = file("${local.repository_root}/auth_lambda/handler.py")
  }
  source {
    filename = "auth.py"
    content  = file("${local.repository_root}/src/s3pypi_core/auth.py")
  }
  source {
    filename = "routing.py"
    content  = file("${local.repository_root}/src/s3pypi_core/routing.py")
  }
  source {
    filename = "config.json"
    content  = jsonencode(local.basic_auth_config)
  }
}

resource "aws_lambda_function" "basic_auth" {
  count    = var.enable_basic_auth ? 1 : 0
  provider = aws.us_east_1
  #checkov:skip=CKV_AWS_50:Lambda@Edge does not support X-Ray tracing.
  #checkov:skip=CKV_AWS_115:Lambda@Edge does not support reserved concurrency.
  #checkov:skip=CKV_AWS_116:Lambda@Edge viewer-request functions are invoked synchronously: a dead-letter queue never receives anything.
  #checkov:skip=CKV_AWS_117:Lambda@Edge cannot run in a VPC.
  #checkov:skip=CKV_AWS_272:Lambda@Edge does not support code signing.

  function_name = "s3pypi-basic-auth-${replace(var.domain, ".", "-")}"
  description   = "s3pypi: basic auth for ${var.domain}"
  role          = aws_iam_role.basic_auth[0].arn
  runtime       = "python3.13"
  handler       = "handler.handle"
  architectures = ["x86_64"] # the only one Lambda@Edge runs
  memory_size   = 128        # the viewer-request maximum
  timeout       = 5          # the viewer-request maximum
  publish       = true       # CloudFront needs a numbered version

  filename         = data.archive_file.basic_auth[0].output_path
  source_code_hash = data.archive_file.basic_auth[0].output_base64sha256
}

data "aws_iam_policy_document" "basic_auth_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "basic_auth" {
  count    = var.enable_basic_auth ? 1 : 0
  provider = aws.us_east_1

  name               = "${local.name}-basic-auth"
  description        = "s3pypi: the basic auth Lambda@Edge function of ${var.domain}"
  assume_role_policy = data.aws_iam_policy_document.basic_auth_assume_role.json
}

# Least privilege: read this domain's users (SecureStrings under the AWS managed aws/ssm key,
# whose key policy lets SSM decrypt for the account's principals), and write its own logs.
data "aws_iam_policy_document" "basic_auth" {
  statement {
    sid       = "ReadUsers"
    actions   = ["ssm:GetParameter"]
    resources = [local.users_parameters_arn]
  }

  statement {
    sid     = "WriteOwnLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${local.log_groups_arn_prefix}/us-east-1.s3pypi-basic-auth-${replace(var.domain, ".", "-")}:*",
      "${local.log_groups_arn_prefix}/s3pypi-basic-auth-${replace(var.domain, ".", "-")}:*",
    ]
  }
}

resource "aws_iam_role_policy" "basic_auth" {
  count    = var.enable_basic_auth ? 1 : 0
  provider = aws.us_east_1

  name   = "read-users-write-logs"
  role   = aws_iam_role.basic_auth[0].id
  policy = data.aws_iam_policy_document.basic_auth.json
}
