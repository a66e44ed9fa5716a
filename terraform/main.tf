# An s3pypi index with its own bucket, CloudFront distribution and domain.
#
#   terraform init && terraform apply      (settings in config.auto.tfvars)

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

variable "region" {
  type        = string
  description = "AWS region of the bucket (and the lock table)"
}

variable "bucket" {
  type        = string
  description = "S3 bucket name"
}

variable "domain" {
  type        = string
  description = "Domain name, e.g. pypi.example.com (its hosted zone must be in Route 53)"
}

variable "use_wildcard_certificate" {
  type        = bool
  default     = false
  description = "Use an existing wildcard certificate (*.example.com) instead of creating one"
}

variable "enable_dynamodb_locking" {
  type        = bool
  default     = false
  description = "Create a DynamoDB table (BUCKET-locks) for locking"
}

variable "enable_basic_auth" {
  type        = bool
  default     = false
  description = "Enable basic authentication using Lambda@Edge"
}

variable "github_publishers" {
  type = list(object({
    repository  = string
    ref         = optional(string)
    environment = optional(string)
  }))
  default     = []
  description = "GitHub Actions workflows that may publish without stored keys: repository and ref or environment"
}

variable "gitlab_publishers" {
  type = list(object({
    project_path = string
    ref_type     = string
    ref          = string
  }))
  default     = []
  description = "GitLab CI jobs that may publish without stored keys: project_path, ref_type and ref"
}

variable "gitlab_url" {
  type        = string
  default     = "https://gitlab.com"
  description = "The GitLab instance whose ID tokens are trusted"
}

provider "aws" {
  region = var.region
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

module "s3pypi" {
  source = "./modules/s3pypi"

  bucket                   = var.bucket
  domain                   = var.domain
  use_wildcard_certificate = var.use_wildcard_certificate
  enable_dynamodb_locking  = var.enable_dynamodb_locking
  enable_basic_auth        = var.enable_basic_auth
  github_publishers        = var.github_publishers
  gitlab_publishers        = var.gitlab_publishers
  gitlab_url               = var.gitlab_url

  providers = {
    aws.us_east_1 = aws.us_east_1
  }
}

output "bucket" {
  value       = module.s3pypi.bucket
  description = "The bucket to publish to"
}

output "distribution_id" {
  value       = module.s3pypi.distribution_id
  description = "ID of the CloudFront distribution"
}

output "index_url" {
  value       = module.s3pypi.index_url
  description = "The index URL for pip and uv"
}

output "locks_table" {
  value       = module.s3pypi.locks_table
  description = "The DynamoDB lock table (null without locking)"
}

output "repository_url" {
  value       = module.s3pypi.repository_url
  description = "Where to publish: s3pypi upload --repository-url"
}

output "publisher_policy_arn" {
  value       = module.s3pypi.publisher_policy_arn
  description = "Managed policy for publishers (no deletes)"
}

output "maintainer_policy_arn" {
  value       = module.s3pypi.maintainer_policy_arn
  description = "Managed policy for maintainers (publishers' and deletes)"
}

output "github_publisher_role_arn" {
  value       = module.s3pypi.github_publisher_role_arn
  description = "Role for GitHub Actions (null without github_publishers)"
}

output "gitlab_publisher_role_arn" {
  value       = module.s3pypi.gitlab_publisher_role_arn
  description = "Role for GitLab CI (null without gitlab_publishers)"
}
