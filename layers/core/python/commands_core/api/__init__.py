"""Event parsing and HTTP responses, one module per API family for its media types and error shape."""
