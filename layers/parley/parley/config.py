"""Every setting, read from the environment once and lazily.

The same variable names serve locally and on AWS. Nothing here connects to
anything: a handler's cold start pays only for what it uses.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # Backing services
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/parley"
    # Connections a process keeps, and how many more it may open under load.
    # A unit of work holds one at a time, so no size can deadlock; locally the
    # dev gateway runs many invocations per process, on Lambda one.
    database_pool_size: int = 5
    # A stalled PostgreSQL fails a request after these, never holds it (seconds):
    # opening a connection, waiting for one from the pool, any one statement.
    database_connect_timeout_seconds: float = 3.0
    database_pool_timeout_seconds: float = 3.0
    database_statement_timeout_seconds: float = 5.0
    database_max_overflow: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Connecting to Redis and any one command (seconds).
    redis_timeout_seconds: float = 2.0
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Extra librdkafka settings as JSON, e.g. SASL/IAM for MSK.
    kafka_client_config: dict[str, str] = Field(default_factory=dict)
    kafka_flush_timeout_seconds: float = 0.5

    # Tokens: the secret itself locally, or the name of a Secrets Manager
    # secret / SSM parameter holding it on AWS.
    jwt_secret: SecretStr | None = None
    jwt_secret_name: str | None = None
    # Argon2id cost (argon2-cffi's defaults); the test suite lowers it.
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 64 * 1024
    password_hash_parallelism: int = 4
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # A refresh token used again within this many seconds of its first use
    # (two tabs refreshing at once) gets the same successor pair; later, a
    # reuse revokes its family.
    refresh_token_reuse_interval_seconds: int = 10

    # WebSocket behaviour
    allowed_origins: list[str] = Field(default_factory=list)
    connection_ttl_seconds: int = 2 * 3600 + 600
    # A user counts as online for this long after their last ping (clients
    # ping every 30 s); past it they are offline, $disconnect or not.
    presence_ttl_seconds: int = 90
    # Live connections one user may hold; $connect refuses one more (429).
    max_connections_per_user: int = 10
    # A connection that has sent no frame yet and is younger than this may be
    # still connecting (API Gateway's $connect integration times out at 29 s):
    # a 410 from it does not prove it gone.
    connection_confirm_seconds: float = 30.0
    max_pins_per_chat: int = 50
    edit_window_seconds: int = 48 * 3600
    message_max_chars: int = 4000
    # Members of one group, creator included: creating, adding and joining past it is refused.
    group_max_members: int = 1024
    # A message to more recipients than this is acked once committed; the
    # fan-out function (consuming message.created) reaches them, in batches.
    fan_out_inline_max_recipients: int = 200
    fan_out_batch_size: int = 200
    # A live frame this late is no longer worth pushing (a first deploy reading
    # the topic from its start, a long outage): clients find it in history.
    fan_out_max_age_seconds: float = 300.0
    # A chat with more members than this is big: one member's typing reaches
    # the others at most once per `typing_interval_seconds` (its stop is not
    # pushed: clients let an indicator lapse), its sender hears a message's
    # aggregate status only, and sharing it alone does not make two users
    # hear each other's presence.
    big_chat_members: int = 200
    typing_interval_seconds: float = 2.0
    message_cache_size: int = 100

    # Rate limits (per user, per action class, per window)
    rate_limit_messages: int = 20
    rate_limit_messages_window_seconds: int = 10
    rate_limit_actions: int = 120
    rate_limit_actions_window_seconds: int = 60
    # Sign-in attempts per window: per (address, username) pair, per username
    # from all addresses, per address for all usernames (docs: README).
    # Registrations: rate_limit_auth per address.
    rate_limit_auth: int = 10
    rate_limit_auth_username: int = 100
    rate_limit_auth_address: int = 100
    rate_limit_auth_window_seconds: int = 60

    # Events
    event_source: str = "parley"
    topic_partitions: int = 3
    topic_retention_ms: int = 7 * 24 * 3600 * 1000
    consumer_max_retries: int = 3
    # Events (outbox publishing, relay, consumers): after a failed publish at
    # commit, commits skip publishing for this long and leave rows to the relay.
    outbox_publish_backoff_seconds: float = 5.0
    # A fresh idempotent producer first obtains its producer id: its first
    # publish at commit may wait this long instead of kafka_flush_timeout_seconds.
    kafka_first_flush_timeout_seconds: float = 2.0
    # An unpublished row older than this is taken as failed by its writer: newer
    # rows with its key wait for the relay behind it.
    outbox_stale_seconds: float = 10.0
    relay_batch_size: int = 1000
    relay_flush_timeout_seconds: float = 10.0
    # Stop starting new batches after this long (the function's timeout is 60 s).
    relay_max_seconds: float = 45.0
    notification_sender: str = "log"

    # Deployment: the database from a Secrets Manager secret (set by template.yaml).
    # The secret holds a SQLAlchemy URL, JSON with "url", or the RDS credentials
    # JSON; when set it wins over DATABASE_URL. database_host replaces the
    # secret's host (the RDS Proxy endpoint in front of the instance).
    database_secret_arn: str | None = None
    database_host: str | None = None

    # Pushing frames without a WebSocket event at hand (REST membership changes):
    # the @connections endpoint, https://{api}.execute-api.{region}.amazonaws.com/{stage}
    # on AWS, http://HOST:PORT/ws on the dev gateway. Unset: REST pushes nothing.
    websocket_connections_url: str | None = None

    # GET /health: how long it waits for any service, and the age past which an
    # unpublished event means Kafka is degraded (the relay runs every minute).
    health_timeout_seconds: float = 1.5
    health_outbox_max_age_seconds: float = 120.0

    # Observability (Powertools reads its own POWERTOOLS_* variables too)
    log_level: str = "INFO"
    service_name: str = "parley"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
