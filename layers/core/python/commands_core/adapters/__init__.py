"""Adapters to AWS: the only code that calls boto3 and catches botocore errors."""
