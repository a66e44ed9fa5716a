output "bucket" {
  value       = aws_s3_bucket.pypi.id
  description = "The bucket to publish to: s3pypi upload dist/* --bucket BUCKET"
}

output "distribution_id" {
  value       = aws_cloudfront_distribution.cdn.id
  description = "ID of the CloudFront distribution"
}

output "distribution_domain_name" {
  value       = aws_cloudfront_distribution.cdn.domain_name
  description = "The distribution's own domain name (*.cloudfront.net)"
}

output "domain" {
  value       = var.domain
  description = "The domain the index is served at"
}

output "index_url" {
  value       = "https://${var.domain}/${local.index_key_prefix}"
  description = "The index URL for pip (--index-url / --extra-index-url) and uv"
}

output "locks_table" {
  value       = one(aws_dynamodb_table.locks[*].name)
  description = "Name of the DynamoDB lock table (null without enable_dynamodb_locking)"
}

output "basic_auth_function_arn" {
  value       = one(aws_lambda_function.basic_auth[*].qualified_arn)
  description = "Qualified ARN of the Lambda@Edge basic auth function (null without enable_basic_auth)"
}

output "repository_url" {
  value       = "s3://${aws_s3_bucket.pypi.id}${var.prefix == "" ? "" : "/${var.prefix}"}"
  description = "Where to publish: s3pypi upload dist/* --repository-url URL (and the GitHub Action's repository-url)"
}

output "distribution_arn" {
  value       = aws_cloudfront_distribution.cdn.arn
  description = "ARN of the CloudFront distribution (the AWS:SourceArn a KMS key policy names, with kms_key_arn)"
}

output "publisher_policy_arn" {
  value       = aws_iam_policy.publisher.arn
  description = "Managed policy for publishers (upload): read and write the index's objects, list them, the lock; no deletes"
}

output "publisher_policy_json" {
  value       = data.aws_iam_policy_document.publisher.json
  description = "The publisher policy as JSON, to attach elsewhere (another account's role, a permission set)"
}

output "maintainer_policy_arn" {
  value       = aws_iam_policy.maintainer.arn
  description = "Managed policy for maintainers: the publisher's, plus deleting the index's objects (delete, yank, reindex, force-unlock)"
}

output "maintainer_policy_json" {
  value       = data.aws_iam_policy_document.maintainer.json
  description = "The maintainer policy as JSON"
}

output "github_publisher_role_arn" {
  value       = one(aws_iam_role.github_publisher[*].arn)
  description = "Role GitHub Actions workflows assume to publish (role-to-assume); null without github_publishers"
}

output "gitlab_publisher_role_arn" {
  value       = one(aws_iam_role.gitlab_publisher[*].arn)
  description = "Role GitLab CI jobs assume to publish (AWS_ROLE_ARN); null without gitlab_publishers"
}
