# s3pypi 2.x kept the basic auth function in a child module; here it is part of this module.
# This move updates the existing function in place: a Lambda@Edge function cannot be deleted
# until CloudFront has removed its replicas, hours after it was detached.

moved {
  from = module.basic_auth[0].aws_lambda_function.basic_auth
  to   = aws_lambda_function.basic_auth[0]
}
