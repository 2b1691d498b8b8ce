"""The audit judges each status by what it waits for."""

from app.extensions import db
from app.maintenance.audit import audit
from app.models import Image, ImageStatus


def test_an_upload_awaiting_its_file_is_no_problem(app):
    with app.app_context():
        db.session.add(
            Image(
                id="a" * 32,
                status=ImageStatus.AWAITING_UPLOAD.value,
                content_type="image/jpeg",
                bytes=10,
                original_key=f"originals/{'a' * 32}.jpg",
            )  # fmt: skip
        )
        db.session.commit()
        assert audit() == []
