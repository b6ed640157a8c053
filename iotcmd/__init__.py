"""`iotcmd`: the operators' command line, a client of the service's HTTP API (local or deployed)."""
