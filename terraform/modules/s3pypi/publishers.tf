# Who may change the index, with no more than `s3pypi` asks of AWS (s3pypi_core/storage/s3.py,
# publishing.py, locking.py):
#
# - publishers (`s3pypi upload`, `s3pypi-twine upload`, `hatch publish -p s3pypi`): read and
#   write the index's objects, list its keys, take the lock. An upload deletes nothing: on
#   *.amazonaws.com s3pypi trusts S3's conditional writes; elsewhere (also the China
#   partition's *.amazonaws.com.cn), without a lock, it checks them by creating a marker object,
#   PREFIX/.s3pypi-conditional-writes, which it keeps.
# - maintainers (`delete`, and `reindex`, which drops emptied pages): the same, and
#   s3:DeleteObject on the index's keys. `yank`, `verify` and `force-unlock` need no more than
#   a publisher has.
#
# GetObject covers HeadObject and ranged reads; PutObject covers the conditional writes
# (If-Match, If-None-Match) and every step of a multipart upload but its abort, which the
# transfer manager sends when an upload fails. ListBucket also decides whether a missing key is
# a 404 or a 403: S3 evaluates it with the key as s3:prefix, so the prefix condition keeps both
# listing and "is it there?" inside the index.

locals {
  index_key_prefix = var.prefix == "" ? "" : "${var.prefix}/"
  index_objects    = "${aws_s3_bucket.pypi.arn}/${local.index_key_prefix}*"

  # s3pypi looks for BUCKET-locks by default; without the table it reads nothing else, but a
  # refused GetItem would print a warning on every upload, so the look-up is allowed.
  default_locks_table_arn = "arn:${data.aws_partition.current.partition}:dynamodb:${aws_s3_bucket.pypi.region}:${data.aws_caller_identity.current.account_id}:table/${var.bucket}-locks"
  locks_table_arn         = var.enable_dynamodb_locking ? aws_dynamodb_table.locks[0].arn : local.default_locks_table_arn
  lock_actions            = var.enable_dynamodb_locking ? ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"] : ["dynamodb:GetItem"]
}

data "aws_iam_policy_document" "publisher" {
  statement {
    sid       = "ReadAndWriteIndexObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.index_objects]
  }

  statement {
    sid       = "ListIndexKeys"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.pypi.arn]

    dynamic "condition" {
      for_each = var.prefix == "" ? [] : [var.prefix]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${condition.value}/*"]
      }
    }
  }

  statement {
    sid       = "Lock"
    actions   = local.lock_actions
    resources = [local.locks_table_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EncryptAndDecryptIndexObjects"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "maintainer" {
  source_policy_documents = [data.aws_iam_policy_document.publisher.json]

  statement {
    sid       = "DeleteIndexObjects"
    actions   = ["s3:DeleteObject"]
    resources = [local.index_objects]
  }
}

resource "aws_iam_policy" "publisher" {
  name        = "${local.name}-publisher"
  description = "s3pypi: publish to ${var.domain} (s3pypi upload); no deletes"
  policy      = data.aws_iam_policy_document.publisher.json
}

resource "aws_iam_policy" "maintainer" {
  name        = "${local.name}-maintainer"
  description = "s3pypi: publish to and maintain ${var.domain} (upload, delete, yank, reindex, force-unlock)"
  policy      = data.aws_iam_policy_document.maintainer.json
}
