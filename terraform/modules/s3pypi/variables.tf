variable "bucket" {
  type        = string
  description = "Name of the S3 bucket that holds the distributions and index pages (created here)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "An S3 bucket name is 3 to 63 lowercase letters, digits, '.' and '-'."
  }
}

variable "domain" {
  type        = string
  description = "Domain the index is served at, e.g. pypi.example.com. Its hosted zone must be in Route 53."

  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.domain))
    error_message = "The domain must be a lowercase host name such as pypi.example.com."
  }
}

variable "hosted_zone" {
  type        = string
  default     = null
  description = "Route 53 public hosted zone of the domain (default: the domain without its first label)."
}

variable "use_wildcard_certificate" {
  type        = bool
  default     = false
  description = "Use an existing, issued ACM certificate for *.ZONE in us-east-1 instead of creating and DNS-validating one for the domain."
}

variable "enable_dynamodb_locking" {
  type        = bool
  default     = false
  description = "Create the DynamoDB table BUCKET-locks, which s3pypi uses to let one publisher at a time update the pages."
}

variable "enable_basic_auth" {
  type        = bool
  default     = false
  description = "Require HTTP basic auth (Lambda@Edge) with the users stored in SSM Parameter Store under /s3pypi/DOMAIN/users/."
}

variable "basic_auth_users_region" {
  type        = string
  default     = "us-east-1"
  description = "Region of the SSM parameters that hold the basic auth users (put_user.py --region; s3pypi 2.x used us-east-1)."
}

variable "basic_auth_cache_ttl" {
  type        = number
  default     = 300
  description = "Seconds each Lambda@Edge instance remembers a verified password: a removed or changed user keeps access at most this long."

  validation {
    condition     = var.basic_auth_cache_ttl >= 0 && var.basic_auth_cache_ttl <= 900
    error_message = "basic_auth_cache_ttl must be between 0 and 900 seconds."
  }
}

variable "index_html" {
  type        = bool
  default     = false
  description = "Pages are stored as NAME/index.html (published with `s3pypi upload --index.html`) instead of NAME/."
}

variable "enable_versioning" {
  type        = bool
  default     = true
  description = "Keep previous versions of overwritten or deleted objects for 90 days (S3 versioning)."
}

variable "price_class" {
  type        = string
  default     = "PriceClass_100"
  description = "CloudFront price class: PriceClass_100, PriceClass_200 or PriceClass_All."
}

variable "web_acl_id" {
  type        = string
  default     = null
  description = "ARN of an AWS WAF web ACL (scope CLOUDFRONT) to attach, e.g. for rate limiting."
}

variable "logging_bucket" {
  type        = string
  default     = null
  description = "Domain name of a bucket (ACLs enabled) for CloudFront access logs, e.g. my-logs.s3.amazonaws.com."
}
