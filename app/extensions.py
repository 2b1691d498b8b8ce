"""Extension instances, created unbound and attached to the app in create_app()."""

from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for Pixline's models."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


class RedisQueue:
    """The Redis connection and the RQ queue of one app, created lazily from config."""

    def init_app(self, app: Flask) -> None:
        """Attach a Redis client configured from REDIS_URL to the app."""
        # Tests may hand in a client (fakeredis); otherwise connect from REDIS_URL.
        client = app.config.get("REDIS_CLIENT")
        if client is not None:
            app.extensions["pixline.redis"] = client
            return
        # Short socket timeouts: a dead Redis must fail a request fast, not hang it.
        app.extensions["pixline.redis"] = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
        )

    @property
    def connection(self) -> Redis:
        """The current app's Redis client."""
        return current_app.extensions["pixline.redis"]

    @property
    def queue(self) -> Queue:
        """The images queue, JSON-serialized (never pickle: see README, Security)."""
        return Queue(current_app.config["QUEUE_NAME"], connection=self.connection, serializer=JSONSerializer)

    @property
    def maintenance_queue(self) -> Queue:
        """The queue periodic tasks run on (JSON-serialized, like the images queue)."""
        return Queue(current_app.config["MAINTENANCE_QUEUE"], connection=self.connection, serializer=JSONSerializer)


redis_queue = RedisQueue()
