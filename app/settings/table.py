"""Every Pixline setting, declared once: name, default, parser (and its rule), description, group.

To add a setting, add one `Setting(...)` to TABLE under its group; `read()` parses and checks it in every process,
`python -m app.settings --write README.md` documents it, and the walk-every-setting test sends its parser's bad
example to the processes. Read it as `app.config[NAME]` in the app, or `settings.read()[NAME]` in a process.
"""

from dataclasses import dataclass
from typing import Any

from app.settings import grammars
from app.settings.parsers import (
    Addresses,
    Bool,
    Choice,
    DatabaseUrl,
    Grammar,
    Host,
    Int,
    Parser,
    Port,
    SecondsList,
    Text,
    Url,
)

MIB = 1024 * 1024
# Chosen with `make bench` (README, Benchmarks, table 6): AVIF for browsers that take it, WebP for the rest.
DEFAULT_OUTPUT_FORMATS = "avif,webp"
# Seconds before each retry of a webhook delivery (Standard Webhooks' and Svix's schedule, about 2.6 days in all).
WEBHOOK_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
# Group ids, in the order the docs show them, with their titles.
GROUPS = {
    "storage": "Storage: database, Redis and files",
    "media": "Media URLs",
    "uploads": "Uploads",
    "processing": "Processing",
    "outputs": "Output formats",
    "worker": "Workers and jobs",
    "retries": "Retries",
    "web": "Web server",
    "access": "Access",
    "webhooks": "Webhooks",
    "maintenance": "Maintenance",
    "monitoring": "Monitoring",
    "logging": "Logging",
    "make run": "make run",
}
# Parsers of settings that take any text, each saying why.
FOLDER = Text(because="any folder path; it is created when missing", values="folder path")
QUEUE = Text(because="any RQ queue name", values="queue name")
SECRET = Text(because="any text is a secret; a long random one is a good one", secret=True)
CREDENTIAL = Text(because="credentials are opaque to Pixline", secret=True)


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, how its text is parsed and checked, what it means, where it belongs."""

    name: str
    default: Any
    parser: Parser
    description: str
    group: str
    # What the docs say when the default is worked out at start (e.g. a file in the instance folder).
    shown_default: str | None = None


# fmt: off
TABLE: tuple[Setting, ...] = (
    # --- storage ---
    Setting("DATABASE_URL", None, DatabaseUrl(), "SQLAlchemy URL; `postgresql://user@host/db` for PostgreSQL",
            "storage", shown_default="`sqlite:///instance/pixline.db`"),
    Setting("SQLITE_BUSY_TIMEOUT_MS", 30_000, Int(0), "how long SQLite writers wait for the lock", "storage"),
    Setting("DATABASE_POOL_SIZE", 5, Int(1),
            "database connections each process keeps open ([Web tier](#web-tier): why so few)", "storage"),
    Setting("DATABASE_POOL_OVERFLOW", 5, Int(0), "connections a process may open beyond that in a burst", "storage"),
    Setting("DATABASE_POOL_TIMEOUT", 3, Int(1),
            "seconds a request waits for a free connection before it gets 503 `unavailable` with `Retry-After: 2`",
            "storage"),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", Url("redis", "rediss", "unix", example="redis://127.0.0.1:6379/0"),
            "Redis for the queue and status notices (`rediss://` and passwords work)", "storage",
            shown_default="`make run`: a private `redis-server` on a free port; otherwise `redis://127.0.0.1:6379/0`"),
    Setting("INSTANCE_PATH", None, FOLDER,
            "where the embedded defaults keep their files (database, media, keys)", "storage",
            shown_default="`./instance`"),
    Setting("STORAGE_BACKEND", "local",
            Grammar(grammars.check_backend, "`local`, `s3` or an importable `module:Class`", "s4"),
            "`local` (files under `STORAGE_ROOT`), `s3` (a bucket: see [Object "
            "storage](#object-storage-and-direct-uploads)) or `module:Class` for a plug-in backend; moving: [Moving "
            "storage](#moving-storage)", "storage"),
    Setting("STORAGE_ROOT", None, FOLDER, "root folder of the local backend", "storage",
            shown_default="`instance/media`"),
    Setting("S3_ENDPOINT_URL", None, Url("http", "https", example="http://minio:9000", bare_host=True),
            "the S3 endpoint, `http://host:9000` or `host:9000` (scheme from `S3_SECURE`)", "storage",
            shown_default="none (AWS S3)"),
    Setting("S3_PUBLIC_ENDPOINT_URL", None, Url("http", "https", example="https://s3.example.com", bare_host=True),
            "the endpoint browsers reach, which presigned URLs are signed for", "storage",
            shown_default="`S3_ENDPOINT_URL`"),
    Setting("S3_BUCKET", "pixline",
            Text(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name: 3–63 characters, a-z 0-9 . -",
                bad="My_Bucket"), "the bucket holding originals and variants", "storage"),
    Setting("S3_ACCESS_KEY", None, CREDENTIAL, "access key id",
            "storage", shown_default="none (boto3's usual credential chain)"),
    Setting("S3_SECRET_KEY", None, CREDENTIAL, "secret access key",
            "storage", shown_default="none (boto3's usual credential chain)"),
    Setting("S3_REGION", "us-east-1",
            Text(r"[A-Za-z0-9_-]{1,64}", "a region name: letters, digits, _ and -", bad="us east 1"),
            "region (MinIO: its `MINIO_REGION`)", "storage"),
    Setting("S3_SECURE", True, Bool(), "HTTPS when `S3_ENDPOINT_URL` has no scheme", "storage"),
    Setting("S3_CREATE_BUCKET", False, Bool(),
            "`1` creates a missing bucket at startup; otherwise a missing bucket stops startup", "storage"),
    Setting("S3_CONNECT_TIMEOUT", 3, Int(1), "seconds to connect to the storage", "storage"),
    Setting("S3_READ_TIMEOUT", 10, Int(1), "seconds to wait for an answer of the storage", "storage"),
    Setting("S3_MAX_ATTEMPTS", 3, Int(1), "botocore attempts per storage call (RQ retries the job beyond that)",
            "storage"),
    Setting("S3_EVENTS_LIST", "pixline:s3-events", Text(because="any Redis key"),
            "Redis list MinIO pushes bucket notifications to (`flask storage listen`)", "storage"),
    # --- media ---
    Setting("MEDIA_URL_TTL", 3600, Int(2, 604_800, why="S3 presigns for at most 7 days"),
            "lifetime of presigned (s3) and signed (local) media URLs; a signed URL's expiry is rounded up to the "
            "next `MEDIA_URL_TTL/2` boundary", "media"),
    Setting("MEDIA_BASE_URL", None, Url("http", "https", example="https://cdn.example.com/pixline/"),
            "s3: serve variants as this URL + key (public bucket or CDN) instead of presigned URLs (originals stay "
            "presigned); not with `MEDIA_ACCESS=signed`", "media"),
    Setting("MEDIA_ACCESS", "public", Choice("public", "signed"),
            "`public`: variant URLs are plain (unguessable 128-bit ids); `signed`: every media URL is signed and "
            "expiring (see [Signed media](#signed-media))", "media"),
    Setting("MEDIA_SIGNING_KEYS", None,
            Grammar(grammars.parse_signing_keys,
                "`id:secret,id:secret`: ids of letters, digits, `_`, `-`; secrets ≥ 16 characters", "k1:short",
                secret=True),
            "every listed key is accepted, the first signs; separate from `SECRET_KEY`. Set it when several machines "
            "serve media",
            "media", shown_default="generated once into `instance/media_signing_key` (key id `instance`)"),
    Setting("MEDIA_MAX_AGE", 365 * 24 * 3600, Int(0),
            "`Cache-Control: max-age` of media files (keys never change content: a variant's key carries its "
            "content's digest)", "media"),
    Setting("SERVE_ORIGINALS", False, Bool(),
            "originals are private by default; `1` serves them as downloads, only through signed (local) or presigned"
            " (s3) URLs", "media"),
    # --- uploads ---
    Setting("MAX_UPLOAD_BYTES", 25 * MIB, Int(1), "larger uploads get 413 `too_large`", "uploads",
            shown_default="`26214400` (25 MiB)"),
    Setting("MAX_IMAGE_PIXELS", 50_000_000, Int(1),
            "images whose header claims more, or whose frames need a larger canvas (a GIF frame past the logical "
            "screen grows Pillow's), get 422 `too_many_pixels` (Pillow's own guard caps it at 89,478,485)",
            "uploads"),
    Setting("MAX_FRAMES", 1000, Int(1),
            "animated images with more frames are refused at upload with 422 `too_many_frames`", "uploads"),
    Setting("PAGE_UPLOADS", True, Bool(),
            "`off`: the upload page offers no upload (no form; `POST /upload` is 404), its visitors' page tokens lack"
            " `images:write` (API uploads and retries 403), and a new browser gets no owner cookie",
            "uploads", shown_default="`on`"),
    Setting("DIRECT_UPLOADS", False, Bool(), "`1`: the upload page sends files straight to the bucket (s3 only)",
            "uploads"),
    Setting("UPLOAD_URL_TTL", 900, Int(1), "seconds a presigned upload (POST policy) is valid", "uploads"),
    Setting("UPLOAD_GRACE_SECONDS", 3600, Int(0),
            "how long past that an `awaiting_upload` image is kept before cleanup removes it", "uploads"),
    # --- processing ---
    Setting("IMAGE_VARIANTS", "thumb:160,small:480,medium:1024,large:2048",
            Grammar(grammars.check_variants, "`name:box` or `name:WxH:cover`, comma-separated", "thumb:0"),
            "`name:box` fits the variant in a box × box square, never upscaled; `name:WxH:cover` fills exactly W × H "
            "and crops the overflow (see [Output formats](#output-formats-negotiation-crops-and-placeholders)); names"
            " a-z 0-9 _ -, at most 40 characters, unique; edges 1–16383", "processing"),
    Setting("ANIMATION", True, Bool(),
            "animated GIF, APNG and WebP uploads get animated WebP variants; `0` renders every variant still (the "
            "first frame)", "processing"),
    Setting("MAX_ANIMATION_PIXELS", 200_000_000, Int(1),
            "budget of one animated variant, frames × width × height; a variant past it is rendered still (the source"
            " itself must hold at most 4× this, frames × the canvas they are really composited on, and a canvas of at"
            " most 4096×4096, or every variant is still)", "processing"),
    Setting("CROP_GRAVITY", "smart", Choice("smart", "center"),
            "where `cover` variants are cut: `smart` (the window with the most detail) or `center`", "processing"),
    Setting("JOB_TIMEOUT", 120, Int(1),
            "seconds one processing attempt may take; past it the attempt fails `processing_timeout`, retried once at "
            "most (a hang may be a one-off; an image that takes too long takes as long again)", "processing"),
    Setting("WORKER_MEMORY_LIMIT_MB", 1280, Int(0),
            "memory one job's process may take (its `RLIMIT_DATA`: the work horse for `prefork` and `fork`, the "
            "worker itself during a job for `simple`); a job that needs more fails `too_large_to_process`, not "
            "retried. The costliest 50 MP photo needs ~860 MB (a WebP), an idle horse ~90 MB ([Security](#security), "
            "Memory); `0`: no limit. Linux only", "processing"),
    # --- outputs ---
    Setting("OUTPUT_FORMATS", None,
            Grammar(grammars.output_formats, "`avif`, `webp`, `jpeg`, `png`, comma-separated, each once", "avif,gif",
                keep_text=False),
            "the formats every variant is stored in, in preference order (e.g. `webp`, `webp,jpeg`); the first is the"
            " variant's `url`; why this default: [Benchmarks](#benchmarks), table 6",
            "outputs", shown_default=f"`{DEFAULT_OUTPUT_FORMATS}`"),
    Setting("OUTPUT_FORMAT", None,
            Grammar(grammars.one_output_format, "one of `avif`, `webp`, `jpeg`, `png`", "bmp", keep_text=False),
            "the older one-format setting: `OUTPUT_FORMAT=jpeg` means `OUTPUT_FORMATS=jpeg` (`OUTPUT_FORMATS` wins "
            "when both are set)", "outputs"),
    Setting("OUTPUT_QUALITY", 80, Int(1, 100), "encoder quality for WebP and JPEG", "outputs"),
    Setting("AVIF_QUALITY", 65, Int(0, 100),
            "AVIF's quality (libavif's scale: 65 gives 13% fewer bytes than WebP 80 at a slightly higher PSNR)",
            "outputs"),
    Setting("AVIF_SPEED", 10, Int(0, 10), "libaom's speed (0 slowest/smallest … 10 fastest)", "outputs"),
    # --- worker ---
    Setting("QUEUE_NAME", "images", QUEUE, "the RQ queue of image jobs", "worker"),
    Setting("WORKER_CLASS", "prefork", Choice("prefork", "fork", "simple"),
            "`prefork`: jobs one at a time in a long-lived forked work horse, forked again only when it dies, "
            "overruns `JOB_TIMEOUT`, fails a job or grows past 384 MB (crash isolation, hard timeouts, 4× `fork`'s "
            "rate for small images); `fork`: a fresh forked work horse per job (RQ's `Worker`); `simple`: in the "
            "worker process itself, no isolation (see [Benchmarks](#benchmarks))", "worker"),
    Setting("RESULT_TTL", 3600, Int(0), "seconds RQ keeps a finished job", "worker"),
    Setting("FAILURE_TTL", 30 * 24 * 3600, Int(0), "seconds RQ keeps a failed job (so it can be requeued)", "worker",
            shown_default="`2592000` (30 days)"),
    Setting("WORKER_MONITOR_SECONDS", 5, Int(1),
            "how often a worker heartbeats while its job runs (keep well under `ABANDONED_AFTER_SECONDS`)", "worker"),
    Setting("WORKER_MAINTENANCE_SECONDS", 30, Int(1), "how often a worker runs RQ's registry maintenance", "worker"),
    Setting("WORKER_TTL_SECONDS", 60, Int(16), "RQ's worker registration TTL (an idle worker wakes every TTL − 15 s)",
            "worker"),
    # --- retries ---
    Setting("RETRY_MAX", 5, Int(0), "retries after the first attempt, for transient failures", "retries"),
    Setting("RETRY_BASE_SECONDS", 2, Int(1),
            "the n-th retry waits `base * 2**n` seconds, stretched by up to 25% jitter", "retries"),
    Setting("RETRY_CAP_SECONDS", 300, Int(1), "longest wait between retries", "retries"),
    # --- web ---
    Setting("WEB_PROCESSES", None, Int(1), "gunicorn processes", "web",
            shown_default="`2` (`make run`; the Docker image: 2 × cores, compose: 4)"),
    Setting("WEB_WORKER_CLASS", "gevent", Choice("gevent", "gthread"),
            "`gevent`: each client is a greenlet, so long-polls, event streams and slow clients hold no thread ([Web "
            "tier](#web-tier)); `gthread`: the former thread-per-request server", "web"),
    Setting("WEB_CONNECTIONS", 5000, Int(1),
            "clients one web process holds at once (gevent); past it new connections wait in the listen queue", "web"),
    Setting("WEB_THREADS", 16, Int(1), "threads per process, `WEB_WORKER_CLASS=gthread` only", "web"),
    Setting("WEB_TIMEOUT", 75, Int(1),
            "gunicorn worker timeout in the Docker image: a web process whose event loop (gevent) or request "
            "(gthread) is stuck that long is restarted", "web"),
    Setting("FORWARDED_ALLOW_IPS", "127.0.0.1", Addresses(),
            "proxies whose `X-Forwarded-*` gunicorn trusts (Docker image)", "web"),
    Setting("TRUSTED_PROXIES", 0, Int(0),
            "how many reverse proxies in front append to `X-Forwarded-For`; the client address (rate limit, logs) is "
            "taken from there", "web"),
    Setting("CLIENT_TIMEOUT", 30, Int(0),
            "seconds a client may send nothing in the middle of its request body before it is dropped with 408 "
            "`client_timeout` (`0`: never); headers must arrive within gunicorn's keep-alive (5 s). The compose proxy"
            " applies the same value to headers, bodies and slow readers", "web"),
    Setting("LONG_POLL_MAX_SECONDS", 30, Int(0), "the longest `?wait=` honoured", "web"),
    Setting("EVENT_STREAM_MAX_SECONDS", 300, Int(1),
            "an event stream (`/api/events`) is closed after this long; the browser reconnects with `Last-Event-ID` "
            "and loses nothing", "web"),
    Setting("MAX_WAITING_PER_OWNER", 32, Int(1),
            "event streams and long-polls one owner holds open at once (all web processes together; not counted with "
            "`API_AUTH=off`); past it 429 `rate_limited` with `Retry-After` ([Web tier](#web-tier))", "web"),
    Setting("MAX_WAITING_PER_ADDRESS", 128, Int(1),
            "the same per client address (an IPv6 /64 counts as one address); the compose proxy applies it too. "
            "Behind a proxy set `TRUSTED_PROXIES`, or every client counts as the proxy's address", "web"),
    Setting("MAX_WAITING_PER_PROCESS", 1000, Int(1),
            "event streams and long-polls one web process holds; past it 503 `unavailable` with `Retry-After`", "web"),
    Setting("GALLERY_PAGE_SIZE", 24, Int(1),
            "images per page of the upload page's gallery (\"Load more\" fetches the next page)", "web"),
    # --- access ---
    Setting("API_AUTH", "required", Choice("required", "off"),
            "`required`: every `/api/*` request needs `Authorization: Bearer <key>`; `off`: the open API of before "
            "(every request acts as an `admin` of owner `legacy`; the app logs a warning at start) — only on a "
            "private network", "access"),
    Setting("API_KEY_CACHE_SECONDS", 10, Int(0),
            "how long a process reuses what it read of an API key; a revoke or roll reaches every other process "
            "within this (`0`: read the key on every request)", "access"),
    Setting("SECRET_KEY", None, SECRET,
            "signs the HTML forms' CSRF tokens, the page's owner cookie and its page tokens", "access",
            shown_default="generated once into `instance/secret_key`"),
    Setting("RATE_LIMIT", "",
            Grammar(grammars.parse_rate, "`N/second`, `N/minute`, `N/hour` or `N/day`, or `0`", "60/minit"),
            "uploads per owner when a key is used, else per client address, e.g. `60/minute`; past it 429 "
            "`rate_limited` with `Retry-After`", "access", shown_default="none (off)"),
    Setting("QUOTA_BYTES", 0, Int(0),
            "bytes each owner may store (originals + variants); an upload past it is 403 `quota_exceeded`, nothing "
            "stored", "access", shown_default="`0` (off)"),
    Setting("QUOTA_UPLOADS_PER_DAY", 0, Int(0),
            "uploads each owner may start per UTC day (`POST /api/images`, `POST /api/uploads`); past it 429 "
            "`rate_limited` with `Retry-After` (until midnight UTC)", "access", shown_default="`0` (off)"),
    # --- webhooks ---
    Setting("WEBHOOK_QUEUE", "webhooks", QUEUE,
            "the queue webhook deliveries run on ([Webhooks](#webhooks))", "webhooks"),
    Setting("WEBHOOK_RETRY_SCHEDULE", WEBHOOK_RETRY_SCHEDULE, SecondsList(),
            "seconds before each retry of a failed delivery (each stretched by up to 20% jitter); `none`: no retry",
            "webhooks"),
    Setting("WEBHOOK_DISABLE_AFTER", 5 * 24 * 3600, Int(1),
            "an endpoint whose every delivery has failed for this long is disabled", "webhooks",
            shown_default="`432000` (5 days)"),
    Setting("WEBHOOK_CONNECT_TIMEOUT", 5, Int(1), "seconds to connect to a receiver", "webhooks"),
    Setting("WEBHOOK_TIMEOUT", 15, Int(1), "seconds one attempt may take in all (connect, send, answer)", "webhooks"),
    Setting("WEBHOOK_ALLOW_HTTP", False, Bool(), "`1` accepts `http://` endpoint URLs (default: `https://` only)",
            "webhooks"),
    Setting("WEBHOOK_ALLOW_PRIVATE", False, Bool(),
            "`1` lifts the address check: receivers on loopback and private networks are called (tests, private "
            "deployments)", "webhooks"),
    Setting("WEBHOOK_RECONCILE_INTERVAL", 60, Int(0),
            "seconds between runs of `webhooks-reconcile`, which re-enqueues overdue deliveries; `0` disables it",
            "webhooks"),
    Setting("WEBHOOK_MAX_PENDING", 1000, Int(0),
            "deliveries one owner may have pending; past it new events' deliveries are recorded as not sent and "
            "`/test` and redeliver answer 429 `webhook_backlog` (`0`: no cap)", "webhooks"),
    Setting("WEBHOOK_TEST_RATE_LIMIT", "10/minute",
            Grammar(grammars.parse_rate, "`N/second`, `N/minute`, `N/hour` or `N/day`, or `off`", "10/minit"),
            "`POST /api/webhooks/<id>/test` and `POST /api/deliveries/<id>/redeliver` calls per owner, together; "
            "past it 429 `rate_limited` with `Retry-After` (`off`: none)", "webhooks"),
    # --- maintenance ---
    Setting("MAINTENANCE_QUEUE", "maintenance", QUEUE, "the queue periodic tasks run on",
            "maintenance"),
    Setting("RECONCILE_INTERVAL", 60, Int(0),
            "seconds between reconciler runs (the `reconcile` periodic task); `0` disables it", "maintenance"),
    Setting("RECONCILE_GRACE_SECONDS", 30, Int(0),
            "a queued row younger than this is left alone (it may be between its commit and its enqueue)",
            "maintenance"),
    Setting("ABANDONED_AFTER_SECONDS", 20, Int(1),
            "a started job whose worker has not heartbeaten for this long is abandoned and re-enqueued "
            "(`WORKER_CLASS=simple` workers do not heartbeat during a job: set it above `JOB_TIMEOUT` then)",
            "maintenance"),
    Setting("RECONCILE_MAX_LOST", 5, Int(1),
            "after this many lost jobs (worker died mid-job) an image is failed `processing_error` instead",
            "maintenance"),
    Setting("PRUNE_INTERVAL", 3600, Int(0), "seconds between runs of the `prune-jobs` task; `0` disables it",
            "maintenance"),
    Setting("UPLOAD_CLEANUP_INTERVAL", 600, Int(0),
            "seconds between runs of the `cleanup-uploads` periodic task (`0`: off)", "maintenance"),
    # --- monitoring ---
    Setting("METRICS_TOKEN", None,
            Text(r"[\x21-\x7e]+", "a token of printable characters, without spaces", bad="two words", secret=True),
            "`/metrics` answers only `Authorization: Bearer <token>` (else 401 `unauthorized`)", "monitoring",
            shown_default="none (`/metrics` open)"),
    Setting("PROMETHEUS_MULTIPROC_DIR", None, FOLDER,
            "folder where a machine's processes share metric samples (emptied at start; the image's roles empty it "
            "only when no live process uses it)",
            "monitoring", shown_default="`make run`: `instance/metrics`; image: `/tmp/pixline-metrics`"),
    Setting("WORKER_METRICS_PORT", None, Port(),
            "a worker serves its machine's job metrics on this port (`worker.py --metrics-port`)", "monitoring",
            shown_default="none"),
    Setting("DASHBOARD_USERNAME", "admin",
            Text(r"[^:\x00-\x1f]+", "a user name without ':' (HTTP Basic auth)", bad="ad:min"),
            "Basic-auth user for `/rq`", "monitoring"),
    Setting("DASHBOARD_PASSWORD", None, SECRET, "without it `/rq` is disabled",
            "monitoring",
            shown_default="none (`make run` generates one and keeps it in `instance/dashboard_password`)"),
    Setting("DASHBOARD_PORT", 9181, Port(),
            "where `make dashboard` (and the image's `dashboard` role) serves rq-dashboard", "monitoring"),
    # --- logging ---
    Setting("LOG_LEVEL", "INFO", Choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", upper=True),
            "log level of every process", "logging"),
    Setting("LOG_FORMAT", "text", Choice("text", "json"),
            "`json`: one JSON object per line, with `image_id` and `job_id` on a job's lines", "logging",
            shown_default="`text` (`json` in the Docker image)"),
    # --- make run ---
    Setting("HOST", "127.0.0.1", Host(), "where `make run` serves", "make run"),
    Setting("PORT", 5000, Port(), "where `make run` serves (the Docker image sets `8000`)", "make run"),
    Setting("WORKERS", 2, Int(0), "worker processes `make run` starts", "make run"),
)
# fmt: on
BY_NAME = {setting.name: setting for setting in TABLE}
