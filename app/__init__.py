"""Pixline: image uploads answered at once, variants made in the background."""

import os
from pathlib import Path

from flask import Flask

from app import settings
from app.settings import DEFAULT_OUTPUT_FORMATS, ConfigError

__all__ = ["DEFAULT_OUTPUT_FORMATS", "ConfigError", "create_app"]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI, dashboard."""
    app = Flask(__name__, instance_path=settings.read()["INSTANCE_PATH"] or None)
    configure(app, test_config)
    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_security_headers(app)
    register_request_guards(app)
    register_errorhandlers(app)
    register_commands(app)
    register_dashboard(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    """Load the checked settings (the environment over a running `make run`'s), then test overrides; derive the rest."""
    from app import stack_settings

    instance = Path(app.instance_path)
    # A test's own settings are the whole story; anything else joins the stack of its instance folder, if one runs.
    app.config.update(settings.read(None if test_config else stack_settings.environ_with_stack(instance)))
    if test_config:
        app.config.update(settings.check_overrides(test_config))
        settings.check_relations(app.config)
    app.config["DATABASE_URL"] = app.config["DATABASE_URL"] or f"sqlite:///{instance / 'pixline.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config["STORAGE_ROOT"] = app.config["STORAGE_ROOT"] or str(instance / "media")
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or _instance_secret(instance)
    app.config["MEDIA_SIGNING_KEYS"] = app.config["MEDIA_SIGNING_KEYS"] or _instance_media_key(instance)
    app.config["OUTPUT_FORMATS"] = output_formats(app.config)
    # Room for the multipart envelope around a file of the maximum size; Werkzeug refuses more unread.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + 64 * 1024
    app.config["MAX_FORM_PARTS"] = 20
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})


def output_formats(config) -> tuple[str, ...]:
    """The formats variants are stored in: OUTPUT_FORMATS, else the older OUTPUT_FORMAT, else the default."""
    from app.imaging import parse_output_formats

    return config["OUTPUT_FORMATS"] or config["OUTPUT_FORMAT"] or parse_output_formats(DEFAULT_OUTPUT_FORMATS)


def _instance_secret(instance: Path, name: str = "secret_key") -> str:
    """A secret kept in the instance folder, so sessions (or signed URLs) survive restarts without configuration."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    if not path.exists():
        # Written aside and linked into place: a web process and a worker starting together never read half a file.
        draft = instance / f".{name}.{os.getpid()}"
        draft.write_text(os.urandom(32).hex())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _instance_media_key(instance: Path) -> str:
    """MEDIA_SIGNING_KEYS when none is set: one key, kept in the instance folder, separate from SECRET_KEY."""
    from app.storage import DERIVED_KEY_ID

    return f"{DERIVED_KEY_ID}:{_instance_secret(instance, 'media_signing_key')}"


def register_logging(app: Flask) -> None:
    """Text or JSON log lines carrying the image and job ids (LOG_FORMAT)."""
    from app import logs

    logs.init_app(app)


def register_extensions(app: Flask) -> None:
    """Database, migrations, Redis and storage."""
    from app import database, storage
    from app.extensions import csrf, db, migrate, redis_queue

    database.configure_engine(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    redis_queue.init_app(app)
    csrf.init_app(app)
    storage.init_app(app)


def register_blueprints(app: Flask) -> None:
    """HTTP layers."""
    from app.extensions import csrf
    from app.monitoring import health, metrics
    from app.web import api, direct_uploads, events, media, negotiation, pages, upload_metrics, webhooks

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(direct_uploads.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(negotiation.bp)
    app.register_blueprint(health.bp)
    metrics.init_app(app)
    upload_metrics.init_app(app)
    # The JSON API is for scripts (no cookies, no forms); CSRF tokens protect the HTML forms only.
    csrf.exempt(api.bp)
    csrf.exempt(events.bp)
    csrf.exempt(direct_uploads.bp)
    csrf.exempt(webhooks.bp)


def register_security_headers(app: Flask) -> None:
    """Content-Security-Policy and friends on the HTML pages."""
    from app.web import security_headers

    security_headers.init_app(app)


def register_request_guards(app: Flask) -> None:
    """Body limits, CLIENT_TIMEOUT, client addresses behind TRUSTED_PROXIES, API keys, rate and waiting limits."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.web import auth, connection_limits, ratelimit
    from app.web.client_timeout import ClientTimeout
    from app.web.request_limits import PixlineRequest

    app.request_class = PixlineRequest
    app.wsgi_app = ClientTimeout(app.wsgi_app, app.config["CLIENT_TIMEOUT"])
    if app.config["TRUSTED_PROXIES"] > 0:
        count = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
    # Keys first: the rate limit counts per owner when a key is used, and a refused key costs no budget.
    auth.init_app(app)
    ratelimit.init_app(app)
    connection_limits.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """JSON errors for the API, readable pages for people."""
    from app.web import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The flask CLI groups."""
    from app import cli

    cli.init_app(app)


def register_dashboard(app: Flask) -> None:
    """rq-dashboard at /rq."""
    import rq_dashboard

    from app.extensions import csrf
    from app.monitoring import dashboard

    dashboard.init_app(app)
    # The dashboard's own script posts without our token; dashboard.guard_dashboard checks origin instead.
    csrf.exempt(rq_dashboard.blueprint)
