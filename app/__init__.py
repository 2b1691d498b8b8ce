"""Pixline: image uploads answered at once, variants made in the background."""

import os
from pathlib import Path

from flask import Flask

from config import ConfigError, settings_from_env


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI, dashboard."""
    app = Flask(__name__, instance_path=os.environ.get("INSTANCE_PATH") or None)
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
    """Load settings from the environment (over a running `make run`'s), then test overrides, then derive the rest."""
    from app import stack_settings

    instance = Path(app.instance_path)
    # A test's own settings are the whole story; anything else joins the stack of its instance folder, if one runs.
    app.config.update(settings_from_env(None if test_config else stack_settings.environ_with_stack(instance)))
    if test_config:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = app.config["DATABASE_URL"] or f"sqlite:///{instance / 'pixline.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config["STORAGE_ROOT"] = app.config["STORAGE_ROOT"] or str(instance / "media")
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or _instance_secret(instance)
    # Room for the multipart envelope around a file of the maximum size; Werkzeug refuses more unread.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + 64 * 1024
    app.config["MAX_FORM_PARTS"] = 20
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    check_processing_settings(app.config)


def check_processing_settings(config) -> None:
    """Refuse to start with variant or output settings every job would fail on."""
    from app.imaging import OUTPUT_FORMATS
    from app.imaging.variants import parse_variant_specs

    try:
        parse_variant_specs(config["IMAGE_VARIANTS"])
    except ValueError as error:
        raise ConfigError(f"IMAGE_VARIANTS: {error}") from None
    if config["OUTPUT_FORMAT"] not in OUTPUT_FORMATS:
        raise ConfigError(f"OUTPUT_FORMAT must be one of {', '.join(OUTPUT_FORMATS)}, not {config['OUTPUT_FORMAT']!r}")


def check_settings() -> None:
    """Read and check this process's settings without building an app (raises ConfigError)."""
    check_processing_settings(settings_from_env())


def _instance_secret(instance: Path) -> str:
    """A secret key kept in the instance folder, so sessions survive restarts without configuration."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()


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
    from app.web import api, direct_uploads, events, media, pages, upload_metrics, webhooks

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(direct_uploads.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(health.bp)
    metrics.init_app(app)
    upload_metrics.init_app(app)
    # The JSON API is for scripts (no cookies, no forms); CSRF tokens protect the HTML forms only.
    csrf.exempt(api.bp)
    csrf.exempt(direct_uploads.bp)
    csrf.exempt(webhooks.bp)


def register_security_headers(app: Flask) -> None:
    """Content-Security-Policy and friends on the HTML pages."""
    from app.web import security_headers

    security_headers.init_app(app)


def register_request_guards(app: Flask) -> None:
    """Body limits per route, CLIENT_TIMEOUT, client addresses from TRUSTED_PROXIES proxies, the upload rate limit."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.web import ratelimit
    from app.web.client_timeout import ClientTimeout
    from app.web.request_limits import PixlineRequest

    app.request_class = PixlineRequest
    app.wsgi_app = ClientTimeout(app.wsgi_app, app.config["CLIENT_TIMEOUT"])
    if app.config["TRUSTED_PROXIES"] > 0:
        count = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
    ratelimit.init_app(app)


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
