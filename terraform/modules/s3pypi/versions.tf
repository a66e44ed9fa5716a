terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.82" # an OIDC provider without thumbprint_list (December 2024)
      # CloudFront's certificate and Lambda@Edge live in us-east-1, whatever the bucket's region.
      configuration_aliases = [aws.us_east_1]
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}
