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
