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

variable "prefix" {
  type        = string
  default     = ""
  description = "Key prefix of the index inside the bucket (s3pypi upload --prefix PREFIX): the publisher and maintainer policies reach only these keys, and index_url ends with it. Empty: the whole bucket."

  validation {
    # No wildcards or other specials: the prefix is written into IAM policies.
    condition     = can(regex("^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$", var.prefix))
    error_message = "prefix: '/'-separated parts of letters, digits, '.', '_' and '-', without a leading or trailing '/'."
  }
}

variable "kms_key_arn" {
  type        = string
  default     = null
  description = "ARN of a customer managed KMS key to encrypt the bucket with (SSE-KMS) instead of SSE-S3; publishers and maintainers get kms:GenerateDataKey and kms:Decrypt on it. Its key policy must let CloudFront decrypt (see the README)."

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a key ARN, arn:PARTITION:kms:REGION:ACCOUNT:key/ID (not an alias)."
  }
}

variable "github_publishers" {
  type = list(object({
    repository  = string
    ref         = optional(string)
    environment = optional(string)
  }))
  default     = []
  description = "GitHub Actions workflows that may publish with no stored keys: the repository (OWNER/NAME) and either the ref the workflow runs on (refs/heads/main, or refs/tags/v* for tags) or its job's environment (release). Creates the role github_publisher_role_arn, which trusts exactly these."

  validation {
    condition     = alltrue([for p in var.github_publishers : can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", p.repository))])
    error_message = "A GitHub publisher's repository is OWNER/NAME, without wildcards."
  }

  validation {
    condition     = alltrue([for p in var.github_publishers : (p.ref == null) != (p.environment == null)])
    error_message = "Give each GitHub publisher either a ref or an environment."
  }

  validation {
    # A `*` may only end a tag ref: tags can be protected, branches anyone with push access makes.
    condition = alltrue([
      for p in var.github_publishers :
      p.ref == null || can(regex("^refs/(heads/[^*?]+|tags/[^*?]+|tags/[^*?]*\\*)$", p.ref))
    ])
    error_message = "A GitHub publisher's ref is refs/heads/BRANCH or refs/tags/TAG; only a tag ref may end with '*'."
  }

  validation {
    condition     = alltrue([for p in var.github_publishers : p.environment == null || can(regex("^[^*?]+$", p.environment))])
    error_message = "A GitHub publisher's environment is a name, without wildcards."
  }
}

variable "github_oidc_provider_arn" {
  type        = string
  default     = null
  description = "ARN of the account's existing IAM OIDC provider for token.actions.githubusercontent.com (audience sts.amazonaws.com); by default the module creates it (an account holds one per issuer)."
}

variable "gitlab_publishers" {
  type = list(object({
    project_path = string
    ref_type     = string
    ref          = string
  }))
  default     = []
  description = "GitLab CI jobs that may publish with no stored keys: the project (GROUP/PROJECT), ref_type \"branch\" or \"tag\", and the ref (main, or v* for tags). Creates the role gitlab_publisher_role_arn, which trusts exactly these."

  validation {
    condition     = alltrue([for p in var.gitlab_publishers : can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", p.project_path))])
    error_message = "A GitLab publisher's project_path is GROUP[/SUBGROUP...]/PROJECT, without wildcards."
  }

  validation {
    condition     = alltrue([for p in var.gitlab_publishers : contains(["branch", "tag"], p.ref_type)])
    error_message = "A GitLab publisher's ref_type is \"branch\" or \"tag\"."
  }

  validation {
    condition = alltrue([
      for p in var.gitlab_publishers :
      can(regex("^[^*?]+$", p.ref)) || (p.ref_type == "tag" && can(regex("^[^*?]*\\*$", p.ref)))
    ])
    error_message = "A GitLab publisher's ref is a branch or tag name; only a tag may end with '*'."
  }
}

variable "gitlab_url" {
  type        = string
  default     = "https://gitlab.com"
  description = "The GitLab instance whose ID tokens are trusted (the tokens' issuer): https://gitlab.com or a self-managed https://gitlab.example.com."

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~-]+)*$", var.gitlab_url))
    error_message = "gitlab_url is https://HOST[/PATH], without a port or a trailing '/'."
  }
}

variable "gitlab_audience" {
  type        = string
  default     = "sts.amazonaws.com"
  description = "The audience (aud) GitLab ID tokens are requested for (id_tokens: ...: aud:); the OIDC provider's client ID."
}

variable "gitlab_oidc_provider_arn" {
  type        = string
  default     = null
  description = "ARN of the account's existing IAM OIDC provider for gitlab_url (its client IDs must include gitlab_audience); by default the module creates it."
}
