# CloudFront in front of the private bucket: HTTPS only, origin access control, and one
# viewer-request function that maps pages to their keys (the CloudFront Function) or, with basic
# auth, checks credentials and then maps the same way (Lambda@Edge).

resource "aws_cloudfront_origin_access_control" "pypi" {
  name                              = local.name
  description                       = "s3pypi: CloudFront reads s3://${var.bucket}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always" # also replaces the viewer's Authorization header
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_function" "viewer_request" {
  count = var.enable_basic_auth ? 0 : 1

  name    = local.name
  runtime = "cloudfront-js-2.0"
  comment = "s3pypi: page keys, JSON for clients that prefer it (PEP 691)"
  publish = true
  code    = replace(file("${path.module}/viewer_request.js"), "var INDEX_HTML = false;", "var INDEX_HTML = ${var.index_html};")
}

# The cache key is the (rewritten) URI only. Pages say how long they stay fresh (a minute at
# most); distributions are immutable.
resource "aws_cloudfront_cache_policy" "pypi" {
  name        = local.name
  comment     = "s3pypi: honour the objects' Cache-Control"
  min_ttl     = 0
  default_ttl = 60
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "pypi" {
  name    = local.name
  comment = "s3pypi: security headers"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
    content_security_policy {
      # The human view (browse.html): its own scripts, styles and JSON only, nothing external.
      content_security_policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
      override                = true
    }
  }
}

resource "aws_cloudfront_distribution" "cdn" {
  #checkov:skip=CKV_AWS_310:One origin, the bucket: there is nothing to fail over to.
  #checkov:skip=CKV_AWS_374:A package index is not restricted by country; add geo_restriction in a fork if needed.
  #checkov:skip=CKV_AWS_68:WAF is optional (var.web_acl_id): basic auth and a private origin protect the index, and a web ACL costs more than the rest of the stack.
  #checkov:skip=CKV2_AWS_47:WAF is optional (var.web_acl_id), see CKV_AWS_68; no Java (Log4j) runs behind this distribution.
  #checkov:skip=CKV_AWS_86:Access logs are optional (var.logging_bucket): they need a separate bucket with ACLs enabled.
  aliases             = [var.domain]
  comment             = "s3pypi ${var.domain}"
  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  price_class         = var.price_class
  default_root_object = "index.html"
  web_acl_id          = var.web_acl_id

  origin {
    origin_id                = "s3"
    domain_name              = aws_s3_bucket.pypi.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.pypi.id
  }

  default_cache_behavior {
    target_origin_id           = "s3"
    viewer_protocol_policy     = "https-only" # no plain-HTTP request, so no password in clear
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.pypi.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.pypi.id

    dynamic "function_association" {
      for_each = aws_cloudfront_function.viewer_request
      content {
        event_type   = "viewer-request"
        function_arn = function_association.value.arn
      }
    }

    dynamic "lambda_function_association" {
      for_each = aws_lambda_function.basic_auth
      content {
        event_type   = "viewer-request"
        lambda_arn   = lambda_function_association.value.qualified_arn
        include_body = false
      }
    }
  }

  # A project published a moment ago must not stay "missing" in the cache.
  custom_error_response {
    error_code            = 403
    error_caching_min_ttl = 0
  }
  custom_error_response {
    error_code            = 404
    error_caching_min_ttl = 0
  }

  dynamic "logging_config" {
    for_each = var.logging_bucket == null ? [] : [var.logging_bucket]
    content {
      bucket          = logging_config.value
      prefix          = "${var.domain}/"
      include_cookies = false
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = local.certificate_arn
    minimum_protocol_version = "TLSv1.2_2021"
    ssl_support_method       = "sni-only"
  }
}
