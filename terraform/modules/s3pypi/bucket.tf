# The bucket: private, encrypted, reachable only by this distribution and over TLS.

resource "aws_s3_bucket" "pypi" {
  #checkov:skip=CKV_AWS_18:Every request reaches the bucket through CloudFront, whose access logs are optional (var.logging_bucket); server access logs would need a bucket of their own.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles the cost for data that can be published again; versioning (var.enable_versioning) covers mistakes.
  #checkov:skip=CKV_AWS_145:SSE-S3 by default on purpose (SSE-KMS needs a key policy for CloudFront's origin access control); kms_key_arn turns SSE-KMS on.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; publishers already update the pages.
  bucket = var.bucket
}

resource "aws_s3_bucket_ownership_controls" "pypi" {
  bucket = aws_s3_bucket.pypi.id

  rule {
    object_ownership = "BucketOwnerEnforced" # no ACLs: the bucket policy decides
  }
}

resource "aws_s3_bucket_public_access_block" "pypi" {
  bucket = aws_s3_bucket.pypi.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "pypi" {
  bucket = aws_s3_bucket.pypi.id

  rule {
    apply_server_side_encryption_by_default {
      # SSE-S3 by default: CloudFront's origin access control reads it without a KMS key
      # policy. With kms_key_arn, that key's policy must let CloudFront decrypt.
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null # S3 Bucket Keys: far fewer (paid) KMS requests
  }
}

resource "aws_s3_bucket_versioning" "pypi" {
  count  = var.enable_versioning ? 1 : 0
  bucket = aws_s3_bucket.pypi.id

  versioning_configuration {
    status = "Enabled"
  }
}

# Housekeeping: unfinished multipart uploads, and (with versioning) previous versions after
# 90 days and the delete markers left once those are gone.
resource "aws_s3_bucket_lifecycle_configuration" "pypi" {
  bucket = aws_s3_bucket.pypi.id

  rule {
    id     = "housekeeping"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.pypi]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontReadsObjects"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.pypi.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.cdn.arn]
    }
  }

  # Without it S3 answers 403 for a missing key; with it 404, so pip and uv move on to the
  # next index for a project that is not here (uv stops at a 403).
  statement {
    sid       = "CloudFrontSeesMissingKeys"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.pypi.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.cdn.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.pypi.arn, "${aws_s3_bucket.pypi.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTLS"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.pypi.arn, "${aws_s3_bucket.pypi.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "s3_policy" {
  bucket = aws_s3_bucket.pypi.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.pypi]
}
