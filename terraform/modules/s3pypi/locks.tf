# The lock table s3pypi (and s3pypi 2.x) uses by default: BUCKET-locks, one item per page
# directory. Locks carry ExpiresAt (epoch seconds), so DynamoDB also removes stale ones.

resource "aws_dynamodb_table" "locks" {
  count = var.enable_dynamodb_locking ? 1 : 0
  #checkov:skip=CKV_AWS_119:Lock items hold no secrets (a hash, a hostname, two timestamps): the AWS managed key (aws/dynamodb) suffices.

  name         = "${var.bucket}-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  ttl {
    attribute_name = "ExpiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
