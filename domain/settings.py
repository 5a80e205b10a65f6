"""All configuration, read once from the environment with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: os.environ.get("DATABASE_URL", "sqlite://data/patron.sqlite3")
    )
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    member_jwt_secret: str | None = field(
        default_factory=lambda: os.environ.get("PATRON_MEMBER_JWT_SECRET") or None
    )
    # Member JWTs: the longest lifetime accepted (exp - iat, seconds), and the issuer and
    # audience a token must name when these are set.
    member_jwt_max_ttl: int = field(default_factory=lambda: _int("PATRON_MEMBER_JWT_MAX_TTL", 86400))
    member_jwt_issuer: str | None = field(default_factory=lambda: os.environ.get("PATRON_MEMBER_JWT_ISSUER") or None)
    member_jwt_audience: str | None = field(
        default_factory=lambda: os.environ.get("PATRON_MEMBER_JWT_AUDIENCE") or None
    )
    # "production" changes safe defaults (introspection needs a credential).
    env: str = field(default_factory=lambda: os.environ.get("PATRON_ENV", "development"))
    # Who may introspect the schema: public | authenticated | off (default: authenticated in
    # production, else public). GraphiQL is served unless this is off.
    introspection: str = field(default_factory=lambda: os.environ.get("PATRON_INTROSPECTION") or (
        "authenticated" if os.environ.get("PATRON_ENV") == "production" else "public"))
    bootstrap_admin_key: str | None = field(
        default_factory=lambda: os.environ.get("PATRON_BOOTSTRAP_ADMIN_KEY") or None
    )
    # Points held after an order before they become spendable (the return window).
    return_window_days: int = field(default_factory=lambda: _int("PATRON_RETURN_WINDOW_DAYS", 14))
    # Credit lots expire this many days after they become spendable; 0 = never.
    points_expiry_days: int = field(default_factory=lambda: _int("PATRON_POINTS_EXPIRY_DAYS", 365))
    # What a refund does to points already spent: "allow_negative" or "cap_at_zero".
    refund_spent_policy: str = field(
        default_factory=lambda: os.environ.get("PATRON_REFUND_SPENT_POLICY", "allow_negative")
    )
    # A member keeps a tier this many days after failing a review before the downgrade.
    tier_grace_days: int = field(default_factory=lambda: _int("PATRON_TIER_GRACE_DAYS", 30))
    # How often the in-process/worker job loop wakes up.
    job_interval_seconds: int = field(default_factory=lambda: _int("PATRON_JOB_INTERVAL", 30))
    # GraphQL limits.
    max_query_depth: int = field(default_factory=lambda: _int("PATRON_MAX_QUERY_DEPTH", 10))
    max_query_tokens: int = field(default_factory=lambda: _int("PATRON_MAX_QUERY_TOKENS", 2000))
    max_query_aliases: int = field(default_factory=lambda: _int("PATRON_MAX_QUERY_ALIASES", 30))
    max_query_cost: int = field(default_factory=lambda: _int("PATRON_MAX_QUERY_COST", 5000))
    # One selection set may repeat a response key this many times, and hold this many fields
    # (fragments expanded); refused before validation, whose field-merge check is quadratic.
    max_field_repeats: int = field(default_factory=lambda: _int("PATRON_MAX_FIELD_REPEATS", 10))
    max_selection_fields: int = field(default_factory=lambda: _int("PATRON_MAX_SELECTION_FIELDS", 200))
    api_key_cache_seconds: int = field(default_factory=lambda: _int("PATRON_API_KEY_CACHE_SECONDS", 10))
    # Reviews: publish automatically when no moderation rule fires (else: manual queue).
    review_auto_publish: bool = field(default_factory=lambda: os.environ.get("PATRON_REVIEW_AUTO_PUBLISH", "1") == "1")
    # Reports never hide a review on their own: they flag it for a moderator. A brand may opt in
    # to hiding a published review after this many distinct reporting members (0 = never), and
    # even then a review rated at or below review_negative_max_rating is never hidden by reports.
    review_report_hide_threshold: int = field(default_factory=lambda: _int("PATRON_REVIEW_REPORT_HIDE_THRESHOLD", 0))
    # Highest rating that counts as negative: protected from hiding by reports, and under the reply SLA.
    review_negative_max_rating: int = field(default_factory=lambda: _int("PATRON_REVIEW_NEGATIVE_MAX_RATING", 2))
    review_thin_body_chars: int = field(default_factory=lambda: _int("PATRON_REVIEW_THIN_BODY_CHARS", 40))
    review_max_body_chars: int = field(default_factory=lambda: _int("PATRON_REVIEW_MAX_BODY_CHARS", 5000))
    review_reply_sla_hours: int = field(default_factory=lambda: _int("PATRON_REVIEW_REPLY_SLA_HOURS", 24))
    # Extra comma-separated words for the profanity filter (added to the built-in list).
    profanity_extra: str = field(default_factory=lambda: os.environ.get("PATRON_PROFANITY_EXTRA", ""))
    # Media uploads.
    media_dir: str = field(default_factory=lambda: os.environ.get("PATRON_MEDIA_DIR", "data/media"))
    media_base_url: str = field(default_factory=lambda: os.environ.get("PATRON_MEDIA_BASE_URL", "/media"))
    photo_max_bytes: int = field(default_factory=lambda: _int("PATRON_PHOTO_MAX_BYTES", 10 * 1024 * 1024))
    video_max_bytes: int = field(default_factory=lambda: _int("PATRON_VIDEO_MAX_BYTES", 200 * 1024 * 1024))
    photo_max_pixels: int = field(default_factory=lambda: _int("PATRON_PHOTO_MAX_PIXELS", 40_000_000))
    photos_per_review: int = field(default_factory=lambda: _int("PATRON_PHOTOS_PER_REVIEW", 10))
    videos_per_review: int = field(default_factory=lambda: _int("PATRON_VIDEOS_PER_REVIEW", 1))
    # A video must be a playable video of at most this many seconds.
    video_max_seconds: int = field(default_factory=lambda: _int("PATRON_VIDEO_MAX_SECONDS", 180))
    # What one upload request may spend checking its files: wall-clock/CPU seconds in total,
    # and pixels decoded in total (photos); past either the file is refused, nothing stored.
    upload_seconds_per_request: int = field(default_factory=lambda: _int("PATRON_UPLOAD_SECONDS_PER_REQUEST", 30))
    upload_pixels_per_request: int = field(default_factory=lambda: _int("PATRON_UPLOAD_PIXELS_PER_REQUEST", 200_000_000))
    # Webhooks.
    webhook_timeout_seconds: int = field(default_factory=lambda: _int("PATRON_WEBHOOK_TIMEOUT", 15))
    webhook_disable_after_hours: int = field(default_factory=lambda: _int("PATRON_WEBHOOK_DISABLE_AFTER_HOURS", 120))
    webhook_poll_ms: int = field(default_factory=lambda: _int("PATRON_WEBHOOK_POLL_MS", 250))
    webhook_batch: int = field(default_factory=lambda: _int("PATRON_WEBHOOK_BATCH", 100))
    webhook_rotation_overlap_hours: int = field(default_factory=lambda: _int("PATRON_WEBHOOK_ROTATION_OVERLAP_HOURS", 24))
    # Request/response excerpts of deliveries older than this are blanked (a periodic job).
    webhook_log_retention_days: int = field(default_factory=lambda: _int("PATRON_WEBHOOK_LOG_RETENTION_DAYS", 30))
    # Hosts or CIDRs webhooks may reach although private/loopback (e.g. "127.0.0.1,10.0.0.0/8").
    webhook_allowed_hosts: str = field(default_factory=lambda: os.environ.get("PATRON_WEBHOOK_ALLOWED_HOSTS", ""))
    # Subscriptions: renewal_due this long before the date; dunning retries and outcome.
    renewal_lead_hours: int = field(default_factory=lambda: _int("PATRON_RENEWAL_LEAD_HOURS", 72))
    dunning_retries: int = field(default_factory=lambda: _int("PATRON_DUNNING_RETRIES", 3))
    dunning_interval_days: int = field(default_factory=lambda: _int("PATRON_DUNNING_INTERVAL_DAYS", 7))
    dunning_outcome: str = field(default_factory=lambda: os.environ.get("PATRON_DUNNING_OUTCOME", "cancel"))
    # Recommendations: at most this many items sharing any one category in a list (0 = no cap).
    recs_max_per_category: int = field(default_factory=lambda: _int("PATRON_RECS_MAX_PER_CATEGORY", 3))
    # How many times one subscription may take the retention offer of one cancel reason.
    retention_offer_limit: int = field(default_factory=lambda: _int("PATRON_RETENTION_OFFER_LIMIT", 1))
    # markRewardCodeUsed for an order Patron has not recorded yet: 0 = refused; N = accepted as
    # awaiting the order, confirmed when the code's member records it within N minutes, else undone.
    reward_code_order_grace_minutes: int = field(
        default_factory=lambda: _int("PATRON_REWARD_CODE_ORDER_GRACE_MINUTES", 0))
    # Recommender: build in a child process (1) so serving processes never stall; 0 = in-process.
    recs_train_subprocess: bool = field(default_factory=lambda: os.environ.get("PATRON_RECS_TRAIN_SUBPROCESS", "1") == "1")
    # Requests per minute per API key / member token / anonymous IP (0 = no limit).
    rate_limit_key_per_minute: int = field(default_factory=lambda: _int("PATRON_RATE_LIMIT_KEY", 1200))
    rate_limit_member_per_minute: int = field(default_factory=lambda: _int("PATRON_RATE_LIMIT_MEMBER", 240))
    rate_limit_anonymous_per_minute: int = field(default_factory=lambda: _int("PATRON_RATE_LIMIT_ANONYMOUS", 600))
    # Redis: connections per pool (per process and event loop); callers wait for a free one
    # up to the timeout, which also bounds connecting and each command. Past it Patron works
    # without Redis for a few seconds (limits per process, no shared cache) and logs it.
    redis_max_connections: int = field(default_factory=lambda: _int("PATRON_REDIS_MAX_CONNECTIONS", 50))
    redis_timeout_seconds: float = field(default_factory=lambda: float(os.environ.get("PATRON_REDIS_TIMEOUT") or 2))
    # Addresses (IPs or CIDRs, comma-separated) of reverse proxies whose X-Forwarded-For /
    # X-Forwarded-Proto are believed. Empty: nobody's, the client is the socket's peer.
    trusted_proxies: str = field(default_factory=lambda: os.environ.get("PATRON_TRUSTED_PROXIES", ""))
    # Request bodies: JSON (and any non-multipart) bodies; multipart uploads may add one
    # video and one photo of the maximum sizes on top.
    max_body_bytes: int = field(default_factory=lambda: _int("PATRON_MAX_BODY_BYTES", 1_000_000))
    # Persisted queries (web/persisted.py). APQ: how many registered documents are kept (0 = APQ
    # off), how long an unused one stays in Redis, and the largest kept (bigger ones still run).
    apq_max_documents: int = field(default_factory=lambda: _int("PATRON_APQ_MAX_DOCUMENTS", 10_000))
    apq_ttl_seconds: int = field(default_factory=lambda: _int("PATRON_APQ_TTL", 86_400))
    apq_max_document_bytes: int = field(default_factory=lambda: _int("PATRON_APQ_MAX_DOCUMENT_BYTES", 65_536))
    # Trusted documents: off | allow (manifest documents callable by hash) | require (only those
    # run); the manifest is a JSON file {"<sha256>": "<document>"}.
    trusted_documents: str = field(default_factory=lambda: os.environ.get("PATRON_TRUSTED_DOCUMENTS") or "off")
    trusted_documents_manifest: str = field(
        default_factory=lambda: os.environ.get("PATRON_TRUSTED_DOCUMENTS_MANIFEST", ""))
    # A GET answer the response cache would keep, asked without credentials, may be kept by a
    # CDN for this many seconds (Cache-Control: public); 0 = every GET answer is private, no-store.
    get_cache_max_age: int = field(default_factory=lambda: _int("PATRON_GET_CACHE_MAX_AGE", 60))


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


def reload_settings(**overrides: object) -> Settings:
    """Re-read the environment (tests and the CLI use this after changing env)."""
    global _settings
    _settings = Settings(**overrides)  # type: ignore[arg-type]
    return _settings
