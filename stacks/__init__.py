"""The CDK app: one stack composed of constructs built from the core's declarations."""
