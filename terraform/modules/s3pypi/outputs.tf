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
  value       = "https://${var.domain}/"
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
