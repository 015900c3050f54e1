"""The wire protocol: error codes, client and server frames."""
