"""Domain logic: no boto3 here, only adapters passed in."""
