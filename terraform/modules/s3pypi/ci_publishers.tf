# Publishing from CI with no stored AWS keys: a GitHub Actions workflow or a GitLab CI job shows
# AWS STS the OIDC token its platform signed for it, and gets an hour of the publisher role.
#
# Each role trusts one issuer, one audience, and exactly the subjects listed: `sub` names the
# repository (project) and the ref or environment, so no other repository can match. A `*`
# may only end a tag ref (refs/tags/v*): protect those tags, since whoever can push one can
# publish. One OIDC provider per issuer per account: pass its ARN if the account already has it.

locals {
  github_issuer   = "token.actions.githubusercontent.com"
  github_audience = "sts.amazonaws.com"
  github_subjects = [
    for p in var.github_publishers :
    p.environment != null ? "repo:${p.repository}:environment:${p.environment}" : "repo:${p.repository}:ref:${p.ref}"
  ]
  github_provider_arn = var.github_oidc_provider_arn != null ? var.github_oidc_provider_arn : one(aws_iam_openid_connect_provider.github[*].arn)

  gitlab_issuer       = trimprefix(var.gitlab_url, "https://")
  gitlab_subjects     = [for p in var.gitlab_publishers : "project_path:${p.project_path}:ref_type:${p.ref_type}:ref:${p.ref}"]
  gitlab_provider_arn = var.gitlab_oidc_provider_arn != null ? var.gitlab_oidc_provider_arn : one(aws_iam_openid_connect_provider.gitlab[*].arn)
}

# GitHub Actions

resource "aws_iam_openid_connect_provider" "github" {
  count = length(var.github_publishers) > 0 && var.github_oidc_provider_arn == null ? 1 : 0

  url            = "https://${local.github_issuer}"
  client_id_list = [local.github_audience]
  # No thumbprint: AWS checks this issuer's certificate against its trusted root CAs.
}

data "aws_iam_policy_document" "github_publisher_trust" {
  count = length(var.github_publishers) > 0 ? 1 : 0

  statement {
    sid     = "GitHubActionsPublishers"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_issuer}:aud"
      values   = [local.github_audience]
    }

    # StringLike so that a tag ref may end in `*`; the variable's validation allows no other
    # wildcard, so every other subject matches only itself.
    condition {
      test     = "StringLike"
      variable = "${local.github_issuer}:sub"
      values   = local.github_subjects
    }
  }
}

resource "aws_iam_role" "github_publisher" {
  count = length(var.github_publishers) > 0 ? 1 : 0

  name                 = "${local.name}-github-publisher"
  description          = "s3pypi: GitHub Actions workflows that publish to ${var.domain}"
  assume_role_policy   = data.aws_iam_policy_document.github_publisher_trust[0].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "github_publisher" {
  count = length(var.github_publishers) > 0 ? 1 : 0

  role       = aws_iam_role.github_publisher[0].name
  policy_arn = aws_iam_policy.publisher.arn
}

# GitLab CI (gitlab.com or a self-managed instance)

resource "aws_iam_openid_connect_provider" "gitlab" {
  count = length(var.gitlab_publishers) > 0 && var.gitlab_oidc_provider_arn == null ? 1 : 0

  url            = var.gitlab_url
  client_id_list = [var.gitlab_audience]
  # No thumbprint: AWS checks a certificate from a trusted root CA itself, and otherwise takes
  # the thumbprint of the issuer's certificate when the provider is created.
}

data "aws_iam_policy_document" "gitlab_publisher_trust" {
  count = length(var.gitlab_publishers) > 0 ? 1 : 0

  statement {
    sid     = "GitLabCIPublishers"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.gitlab_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_issuer}:aud"
      values   = [var.gitlab_audience]
    }

    condition {
      test     = "StringLike"
      variable = "${local.gitlab_issuer}:sub"
      values   = local.gitlab_subjects
    }
  }
}

resource "aws_iam_role" "gitlab_publisher" {
  count = length(var.gitlab_publishers) > 0 ? 1 : 0

  name                 = "${local.name}-gitlab-publisher"
  description          = "s3pypi: GitLab CI jobs that publish to ${var.domain}"
  assume_role_policy   = data.aws_iam_policy_document.gitlab_publisher_trust[0].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "gitlab_publisher" {
  count = length(var.gitlab_publishers) > 0 ? 1 : 0

  role       = aws_iam_role.gitlab_publisher[0].name
  policy_arn = aws_iam_policy.publisher.arn
}
