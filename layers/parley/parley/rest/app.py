"""The FastAPI application; every route lives under the HTTP API's base path."""

from __future__ import annotations

import os

from fastapi import APIRouter, FastAPI

from parley.rest import errors
from parley.rest.routers import attachments, auth, chats, health, users

BASE_PATH = os.environ.get("PARLEY_API_BASE_PATH", "/api").rstrip("/")


def create_app() -> FastAPI:
    app = FastAPI(
        title="Parley REST API",
        version="0.1.0",
        openapi_url=f"{BASE_PATH}/openapi.json",
        docs_url=f"{BASE_PATH}/docs",
        redoc_url=None,
        description=(
            "Accounts, chats and history for Parley. Authenticate with "
            "`Authorization: Bearer <accessToken>`. Every error is "
            '`{"status": "error", "code", "message"}` with the matching status.'
        ),
    )
    errors.install(app)
    api = APIRouter(prefix=BASE_PATH)
    api.include_router(health.router)
    api.include_router(auth.router)
    api.include_router(users.router)
    api.include_router(chats.router)
    api.include_router(attachments.router)
    app.include_router(api)
    return app


app = create_app()
