# The certificate (us-east-1, as CloudFront requires) and the A and AAAA alias records.

data "aws_route53_zone" "dns" {
  name         = local.hosted_zone
  private_zone = false
}

data "aws_acm_certificate" "wildcard" {
  count    = var.use_wildcard_certificate ? 1 : 0
  provider = aws.us_east_1

  domain      = "*.${local.hosted_zone}"
  statuses    = ["ISSUED"]
  most_recent = true
}

resource "aws_acm_certificate" "viewer" {
  count    = var.use_wildcard_certificate ? 0 : 1
  provider = aws.us_east_1

  domain_name       = var.domain
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for option in flatten([for c in aws_acm_certificate.viewer : c.domain_validation_options]) :
    option.domain_name => option
  }

  zone_id         = data.aws_route53_zone.dns.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "viewer" {
  count    = var.use_wildcard_certificate ? 0 : 1
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.viewer[0].arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}

locals {
  certificate_arn = (
    var.use_wildcard_certificate
    ? data.aws_acm_certificate.wildcard[0].arn
    : aws_acm_certificate_validation.viewer[0].certificate_arn
  )
}

resource "aws_route53_record" "alias" {
  zone_id = data.aws_route53_zone.dns.zone_id
  name    = var.domain
  type    = "A"

  alias {
    name                   = aws_cloudfront_distribution.cdn.domain_name
    zone_id                = aws_cloudfront_distribution.cdn.hosted_zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "alias_ipv6" {
  zone_id = data.aws_route53_zone.dns.zone_id
  name    = var.domain
  type    = "AAAA"

  alias {
    name                   = aws_cloudfront_distribution.cdn.domain_name
    zone_id                = aws_cloudfront_distribution.cdn.hosted_zone_id
    evaluate_target_health = false
  }
}
