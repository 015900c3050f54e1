"""The REST API: a FastAPI app served by one function behind the HTTP API."""
