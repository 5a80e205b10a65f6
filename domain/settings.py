"""All configuration, read once from the environment, typed and checked (pydantic-settings).

Every variable Patron reads is a field here, named by its `validation_alias`; nothing else in
the code reads the environment for configuration (tests/test_hostile_ops.py checks that, and
that each name is in the README's configuration table). A bad value raises SettingsError with
one line naming the variable and what it accepts, and the process stops.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# 0 allowed: the fields where 0 means "off", "never" or "no limit".
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


def _env(name: str, default: Any, **constraints: Any) -> Any:
    return Field(default, validation_alias=name, **constraints)


class SettingsError(SystemExit):
    """A configuration value was refused; str() is the one line shown to the operator.

    A SystemExit, because settings are first read at import by some modules (domain/db.py,
    the schema's limits): whichever reads first, the process stops with this line on stderr,
    exit status 1 and no traceback, for every command (serve, worker, migrate ...).
    """


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, populate_by_name=True, case_sensitive=True, env_ignore_empty=True, extra="ignore",
    )

    database_url: str = _env("DATABASE_URL", "sqlite://data/patron.sqlite3",
                             pattern=r"^(sqlite|postgres|postgresql|asyncpg)://")
    redis_url: str | None = _env("REDIS_URL", None, pattern=r"^(redis|rediss|unix)://")
    # Listen address of `server.py serve` (the --host/--port defaults).
    host: str = _env("HOST", "127.0.0.1")
    port: int = _env("PORT", 8000, ge=1, le=65535)
    # Several Patron installations may share one Redis: the instance names the pub/sub channel.
    instance: str = _env("PATRON_INSTANCE", "default", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # Run the periodic jobs and webhook delivery inside the API process (default: on SQLite only).
    inprocess_jobs: bool | None = _env("PATRON_INPROCESS_JOBS", None)
    # Fernet key encrypting webhook secrets at rest; else a key file (created on first use).
    secret_key: str | None = Field(None, validation_alias="PATRON_SECRET_KEY", repr=False)
    secret_key_file: str = _env("PATRON_SECRET_KEY_FILE", "data/secret.key")
    # Logs: one JSON object per line (collectors) or human text.
    log_format: Literal["text", "json"] = _env("PATRON_LOG_FORMAT", "text")
    # Demo data (`server.py seed`): market baskets loaded as orders.
    seed_baskets: Positive = _env("PATRON_SEED_BASKETS", 1000)
    member_jwt_secret: str | None = Field(None, validation_alias="PATRON_MEMBER_JWT_SECRET", repr=False)
    # Member JWTs: the longest lifetime accepted (exp - iat, seconds), and the issuer and
    # audience a token must name when these are set.
    member_jwt_max_ttl: Positive = _env("PATRON_MEMBER_JWT_MAX_TTL", 86400)
    member_jwt_issuer: str | None = _env("PATRON_MEMBER_JWT_ISSUER", None)
    member_jwt_audience: str | None = _env("PATRON_MEMBER_JWT_AUDIENCE", None)
    # "production" changes safe defaults (introspection needs a credential).
    env: Literal["development", "production"] = _env("PATRON_ENV", "development")
    # Who may introspect the schema: public | authenticated | off (default: authenticated in
    # production, else public). GraphiQL is served unless this is off.
    introspection: Literal["public", "authenticated", "off"] | None = _env("PATRON_INTROSPECTION", None)
    bootstrap_admin_key: str | None = Field(None, validation_alias="PATRON_BOOTSTRAP_ADMIN_KEY", repr=False)
    # Points held after an order before they become spendable (the return window).
    return_window_days: Count = _env("PATRON_RETURN_WINDOW_DAYS", 14)
    # Credit lots expire this many days after they become spendable; 0 = never.
    points_expiry_days: Count = _env("PATRON_POINTS_EXPIRY_DAYS", 365)
    # What a refund does to points already spent.
    refund_spent_policy: Literal["allow_negative", "cap_at_zero"] = _env("PATRON_REFUND_SPENT_POLICY", "allow_negative")
    # Money value of one point in minor units of the insights currency (1 point = 1 KRW: 1);
    # programInsights' points liability is (outstanding + pending points) x this, rounded.
    point_value: Decimal = _env("PATRON_POINT_VALUE", Decimal(1), ge=0, le=1_000_000, decimal_places=4)
    # Member insights (RFM, churn risk, CLV) are computed over members' orders in this currency.
    insights_currency: str = _env("PATRON_INSIGHTS_CURRENCY", "USD", pattern=r"^[A-Z]{3}$")
    # A member keeps a tier this many days after failing a review before the downgrade.
    tier_grace_days: Count = _env("PATRON_TIER_GRACE_DAYS", 30)
    # How often the in-process/worker job loop wakes up.
    job_interval_seconds: Positive = _env("PATRON_JOB_INTERVAL", 30)
    # GraphQL limits.
    max_query_depth: Positive = _env("PATRON_MAX_QUERY_DEPTH", 10)
    max_query_tokens: Positive = _env("PATRON_MAX_QUERY_TOKENS", 2000)
    max_query_aliases: Positive = _env("PATRON_MAX_QUERY_ALIASES", 30)
    max_query_cost: Positive = _env("PATRON_MAX_QUERY_COST", 5000)
    # One selection set may repeat a response key this many times, and hold this many fields
    # (fragments expanded); refused before validation, whose field-merge check is quadratic.
    max_field_repeats: Positive = _env("PATRON_MAX_FIELD_REPEATS", 10)
    max_selection_fields: Positive = _env("PATRON_MAX_SELECTION_FIELDS", 200)
    api_key_cache_seconds: Count = _env("PATRON_API_KEY_CACHE_SECONDS", 10)
    # Reviews: publish automatically when no moderation rule fires (else: manual queue).
    review_auto_publish: bool = _env("PATRON_REVIEW_AUTO_PUBLISH", True)
    # Reports never hide a review on their own: they flag it for a moderator. A brand may opt in
    # to hiding a published review after this many distinct reporting members (0 = never), and
    # even then a review rated at or below review_negative_max_rating is never hidden by reports.
    review_report_hide_threshold: Count = _env("PATRON_REVIEW_REPORT_HIDE_THRESHOLD", 0)
    # Highest rating that counts as negative: protected from hiding by reports, and under the reply SLA.
    review_negative_max_rating: int = _env("PATRON_REVIEW_NEGATIVE_MAX_RATING", 2, ge=0, le=5)
    review_thin_body_chars: Count = _env("PATRON_REVIEW_THIN_BODY_CHARS", 40)
    review_max_body_chars: Positive = _env("PATRON_REVIEW_MAX_BODY_CHARS", 5000)
    review_reply_sla_hours: Positive = _env("PATRON_REVIEW_REPLY_SLA_HOURS", 24)
    # Extra comma-separated words for the profanity filter (added to the built-in list).
    profanity_extra: str = _env("PATRON_PROFANITY_EXTRA", "")
    # Media uploads.
    media_dir: str = _env("PATRON_MEDIA_DIR", "data/media")
    media_base_url: str = _env("PATRON_MEDIA_BASE_URL", "/media")
    # Bulk imports (domain/imports/): uploaded files are kept under import_dir until their job
    # ends; an upload over import_max_mb megabytes is refused while it streams in. Rows are
    # written import_batch_rows at a time, one transaction per batch. Media by URL in a review
    # import is refused unless import_fetch_media is on.
    import_dir: str = _env("PATRON_IMPORT_DIR", "data/imports")
    import_max_mb: Positive = _env("PATRON_IMPORT_MAX_MB", 2000)
    import_batch_rows: Positive = _env("PATRON_IMPORT_BATCH_ROWS", 2000, le=10_000)
    import_fetch_media: bool = _env("PATRON_IMPORT_FETCH_MEDIA", False)
    photo_max_bytes: Positive = _env("PATRON_PHOTO_MAX_BYTES", 10 * 1024 * 1024)
    video_max_bytes: Positive = _env("PATRON_VIDEO_MAX_BYTES", 200 * 1024 * 1024)
    photo_max_pixels: Positive = _env("PATRON_PHOTO_MAX_PIXELS", 40_000_000)
    photos_per_review: Count = _env("PATRON_PHOTOS_PER_REVIEW", 10)
    videos_per_review: Count = _env("PATRON_VIDEOS_PER_REVIEW", 1)
    # A video must be a playable video of at most this many seconds.
    video_max_seconds: Positive = _env("PATRON_VIDEO_MAX_SECONDS", 180)
    # What one upload request may spend checking its files: wall-clock/CPU seconds in total,
    # and pixels decoded in total (photos); past either the file is refused, nothing stored.
    upload_seconds_per_request: Count = _env("PATRON_UPLOAD_SECONDS_PER_REQUEST", 30)
    upload_pixels_per_request: Positive = _env("PATRON_UPLOAD_PIXELS_PER_REQUEST", 200_000_000)
    # Webhooks.
    webhook_timeout_seconds: Positive = _env("PATRON_WEBHOOK_TIMEOUT", 15)
    webhook_disable_after_hours: Positive = _env("PATRON_WEBHOOK_DISABLE_AFTER_HOURS", 120)
    webhook_poll_ms: Positive = _env("PATRON_WEBHOOK_POLL_MS", 250)
    webhook_batch: Positive = _env("PATRON_WEBHOOK_BATCH", 100)
    webhook_rotation_overlap_hours: Count = _env("PATRON_WEBHOOK_ROTATION_OVERLAP_HOURS", 24)
    # Request/response excerpts of deliveries older than this are blanked (a periodic job).
    webhook_log_retention_days: Positive = _env("PATRON_WEBHOOK_LOG_RETENTION_DAYS", 30)
    # Hosts or CIDRs webhooks may reach although private/loopback (e.g. "127.0.0.1,10.0.0.0/8").
    webhook_allowed_hosts: str = _env("PATRON_WEBHOOK_ALLOWED_HOSTS", "")
    # Subscriptions: renewal_due this long before the date; dunning retries and outcome.
    renewal_lead_hours: Count = _env("PATRON_RENEWAL_LEAD_HOURS", 72)
    dunning_retries: Count = _env("PATRON_DUNNING_RETRIES", 3)
    dunning_interval_days: Positive = _env("PATRON_DUNNING_INTERVAL_DAYS", 7)
    dunning_outcome: Literal["cancel", "pause", "past_due"] = _env("PATRON_DUNNING_OUTCOME", "cancel")
    # Recommendations: at most this many items sharing any one category in a list (0 = no cap).
    recs_max_per_category: Count = _env("PATRON_RECS_MAX_PER_CATEGORY", 3)
    # How many times one subscription may take the retention offer of one cancel reason.
    retention_offer_limit: Count = _env("PATRON_RETENTION_OFFER_LIMIT", 1)
    # markRewardCodeUsed for an order Patron has not recorded yet: 0 = refused; N = accepted as
    # awaiting the order, confirmed when the code's member records it within N minutes, else undone.
    reward_code_order_grace_minutes: Count = _env("PATRON_REWARD_CODE_ORDER_GRACE_MINUTES", 0)
    # Engagement messages (domain/messaging/). A member without a time zone gets this one
    # (quiet hours are in the member's local time); the default locale picks the templates.
    default_timezone: str = _env("PATRON_DEFAULT_TIMEZONE", "Asia/Seoul")
    default_locale: Literal["ko", "en"] = _env("PATRON_DEFAULT_LOCALE", "ko")
    # smtp://user:pass@host:587?starttls=1 or smtps://host:465; unset: e-mails are written as
    # .eml files to the outbox folder (the embedded default, so `make run` shows them).
    smtp_url: str | None = Field(None, validation_alias="PATRON_SMTP_URL", pattern=r"^smtps?://", repr=False)
    mail_from: str = _env("PATRON_MAIL_FROM", "Patron <no-reply@localhost>")
    mail_outbox_dir: str = _env("PATRON_MAIL_OUTBOX_DIR", "data/mail")
    # The address this Patron is reached at from outside: one-click unsubscribe links point here.
    public_url: str = _env("PATRON_PUBLIC_URL", "http://127.0.0.1:8000", pattern=r"^https?://[^\s?#]+$")
    # The storefront's review form; the link adds ?token=<signed review request token>.
    review_page_url: str = _env("PATRON_REVIEW_PAGE_URL", "", pattern=r"^(https?://[^\s?#]+)?$")
    review_token_days: Positive = _env("PATRON_REVIEW_TOKEN_DAYS", 60)
    # The storefront's survey page; the link adds ?token=<signed survey token>.
    survey_page_url: str = _env("PATRON_SURVEY_PAGE_URL", "", pattern=r"^(https?://[^\s?#]+)?$")
    survey_token_days: Positive = _env("PATRON_SURVEY_TOKEN_DAYS", 30)
    # Advertising messages carry the brand's name and contact (Korea's Network Act Art. 50).
    brand_name: str = _env("PATRON_BRAND_NAME", "Patron", min_length=1, max_length=100)
    brand_contact: str = _env("PATRON_BRAND_CONTACT", "", max_length=200)
    # POINTS_EXPIRING notices: days before a lot expires, comma-separated (one notice per lead).
    points_expiring_days: str = _env("PATRON_POINTS_EXPIRING_DAYS", "30,7", pattern=r"^[1-9][0-9]{0,2}(,[1-9][0-9]{0,2}){0,4}$")
    # Recommender: build in a child process (1) so serving processes never stall; 0 = in-process.
    recs_train_subprocess: bool = _env("PATRON_RECS_TRAIN_SUBPROCESS", True)
    # Recommender: train on the newest N interactions (purchase lines, signals, reviews), which
    # bounds a run's time and memory however long the history grows (0 = all of it).
    recs_train_max_interactions: Count = _env("PATRON_RECS_TRAIN_MAX_INTERACTIONS", 2_000_000)
    # Requests per minute per API key / member token / anonymous IP (0 = no limit).
    rate_limit_key_per_minute: Count = _env("PATRON_RATE_LIMIT_KEY", 1200)
    rate_limit_member_per_minute: Count = _env("PATRON_RATE_LIMIT_MEMBER", 240)
    rate_limit_anonymous_per_minute: Count = _env("PATRON_RATE_LIMIT_ANONYMOUS", 600)
    # Redis: connections per pool (per process and event loop); callers wait for a free one
    # up to the timeout, which also bounds connecting and each command. Past it Patron works
    # without Redis for a few seconds (limits per process, no shared cache) and logs it.
    redis_max_connections: Positive = _env("PATRON_REDIS_MAX_CONNECTIONS", 50)
    redis_timeout_seconds: float = _env("PATRON_REDIS_TIMEOUT", 2.0, gt=0)
    # Addresses (IPs or CIDRs, comma-separated) of reverse proxies whose X-Forwarded-For /
    # X-Forwarded-Proto are believed. Empty: nobody's, the client is the socket's peer.
    trusted_proxies: str = _env("PATRON_TRUSTED_PROXIES", "")
    # Request bodies: JSON (and any non-multipart) bodies; multipart uploads may add one
    # video and one photo of the maximum sizes on top.
    max_body_bytes: Positive = _env("PATRON_MAX_BODY_BYTES", 1_000_000)
    # Persisted queries (web/persisted.py). APQ: how many registered documents are kept (0 = APQ
    # off), how long an unused one stays in Redis, and the largest kept (bigger ones still run).
    apq_max_documents: Count = _env("PATRON_APQ_MAX_DOCUMENTS", 10_000)
    apq_ttl_seconds: Positive = _env("PATRON_APQ_TTL", 86_400)
    apq_max_document_bytes: Positive = _env("PATRON_APQ_MAX_DOCUMENT_BYTES", 65_536)
    # Trusted documents: off | allow (manifest documents callable by hash) | require (only those
    # run); the manifest is a JSON file {"<sha256>": "<document>"}.
    trusted_documents: Literal["off", "allow", "require"] = _env("PATRON_TRUSTED_DOCUMENTS", "off")
    trusted_documents_manifest: str = _env("PATRON_TRUSTED_DOCUMENTS_MANIFEST", "")
    # Federation: the secret a supergraph gateway sends in `Patron-Gateway-Secret` (web/gateway.py);
    # its requests may run documents outside the trusted documents manifest and read `_service`.
    federation_gateway_secret: str | None = Field(None, validation_alias="PATRON_FEDERATION_GATEWAY_SECRET",
                                                  repr=False, min_length=32, max_length=1024)
    # A GET answer the response cache would keep, asked without credentials, may be kept by a
    # CDN for this many seconds (Cache-Control: public); 0 = every GET answer is private, no-store.
    get_cache_max_age: Count = _env("PATRON_GET_CACHE_MAX_AGE", 60)
    # Merchant console (web/console/): wrong passwords in a row that lock a staff account, for
    # how long; sign-in attempts per client address per 15 minutes (any account); session life.
    staff_lockout_attempts: Positive = _env("PATRON_STAFF_LOCKOUT_ATTEMPTS", 5)
    staff_lockout_minutes: Positive = _env("PATRON_STAFF_LOCKOUT_MINUTES", 15)
    staff_login_attempts_per_ip: Positive = _env("PATRON_STAFF_LOGIN_ATTEMPTS_PER_IP", 30)
    staff_session_hours: Positive = _env("PATRON_STAFF_SESSION_HOURS", 12)

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("not an IANA time zone name such as Asia/Seoul")
        return value

    @model_validator(mode="after")
    def _introspection_default(self) -> Settings:
        if self.introspection is None:  # frozen: set once, here
            object.__setattr__(self, "introspection", "authenticated" if self.env == "production" else "public")
        return self

    @property
    def points_expiring_leads(self) -> tuple[int, ...]:
        """PATRON_POINTS_EXPIRING_DAYS as distinct days, longest lead first."""
        return tuple(sorted({int(d) for d in self.points_expiring_days.split(",")}, reverse=True))

    @property
    def run_jobs_in_process(self) -> bool:
        if self.inprocess_jobs is not None:
            return self.inprocess_jobs
        return self.database_url.startswith("sqlite")


def env_names() -> set[str]:
    """Every environment variable Settings reads."""
    return {str(f.validation_alias) for f in Settings.model_fields.values()}


def _one_line(error: ValidationError) -> str:
    """'PATRON_DUNNING_OUTCOME='pasued': Input should be 'cancel', 'pause' or 'past_due''."""
    names = {name: str(f.validation_alias) for name, f in Settings.model_fields.items()}
    parts = []
    for item in error.errors(include_url=False):
        key = str(item["loc"][0]) if item["loc"] else "settings"
        value = item.get("input")
        # A secret's value is never echoed (the line goes to logs).
        secret = any(not f.repr for n, f in Settings.model_fields.items() if key in (n, f.validation_alias))
        shown = f"={value!r}" if isinstance(value, (str, int, float)) and not secret else ""
        parts.append(f"{names.get(key, key)}{shown}: {item['msg']}")
    return "patron: invalid setting " + "; ".join(parts)


def _build(overrides: dict[str, object]) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = _build({})
    return _settings


def reload_settings(**overrides: object) -> Settings:
    """Re-read the environment (tests and the CLI use this after changing env)."""
    global _settings
    _settings = _build(overrides)
    return _settings
