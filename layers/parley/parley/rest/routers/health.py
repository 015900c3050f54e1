from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley.health import check_all

router = APIRouter(tags=["health"])


@router.get("/health", summary="State of PostgreSQL, Redis and Kafka")
def health() -> JSONResponse:
    checks = check_all()
    down = [check.name for check in checks if not check.ok]
    body = {
        "status": "ok" if not down else "degraded",
        "down": down,
        "services": {
            check.name: {
                "ok": check.ok,
                "latencyMs": check.latency_ms,
                **({"error": check.error} if check.error else {}),
                **check.details,
            }
            for check in checks
        },
    }
    return JSONResponse(body, status_code=200 if not down else 503)
