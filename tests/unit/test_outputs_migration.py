"""The outputs migration: every variant stored before it becomes that variant's one (first) file."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import create_app
from tests.conftest import base_config, dispose_app


def test_existing_variants_become_their_first_file(tmp_path, fake_redis, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    config = {**base_config(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}", "REDIS_CLIENT": fake_redis}
    app = create_app(config)
    from app.extensions import db

    with app.app_context():
        upgrade(revision="8e3b2d4c6a10")
        db.session.execute(
            text(
                "INSERT INTO images (id, status, filename, content_type, bytes, original_key, attempts, created_at, "
                "updated_at) VALUES ('a1', 'done', 'a.jpg', 'image/jpeg', 10, 'originals/a1.jpg', 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO variants (image_id, name, key, width, height, format, bytes) "
                "VALUES ('a1', 'thumb', 'variants/a1/thumb.0123456789abcdef.webp', 16, 12, 'webp', 99)"
            )
        )
        db.session.commit()
        upgrade()
        files = db.session.execute(text("SELECT rank, format, content_type, key, bytes FROM variant_files")).all()
        modes = db.session.scalars(text("SELECT mode FROM variants")).all()
        assert files == [(0, "webp", "image/webp", "variants/a1/thumb.0123456789abcdef.webp", 99)]
        assert modes == ["fit"]
        downgrade(revision="8e3b2d4c6a10")
        # Going back keeps the images, their variants and their events.
        counts = [db.session.scalars(text(f"SELECT count(*) FROM {table}")).one() for table in ("images", "variants")]
        assert counts == [1, 1]
    dispose_app(app)
