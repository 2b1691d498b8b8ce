"""Who may do what: every /api route and /metrics against every kind of credential, and nothing changed when refused.

Each row of ROUTES is one route with the scope it needs and its answer when allowed; each credential in CREDENTIALS
is one way a client can present itself. The expected answer of each pair follows from the two (see `expected`).
"""

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Image, ImageEvent, ImageStatus
from app.pipeline import keys
from app.pipeline.access import ADMIN, DEFAULT_SCOPES, DELETE, READ, WRITE
from tests import imagegen
from tests.conftest import authorize
from tests.security.conftest import stored_keys

JPEG = imagegen.solid_jpeg((8, 8))
NEVER_EXISTED = "0" * 32


@dataclass(frozen=True)
class Route:
    """One route: how to call it on a target image, the scope it needs, and its answer when allowed."""

    method: str
    path: str  # {image} is replaced by the target image's id
    scope: str | None  # None: not behind API keys
    allowed: int
    on_image: bool = False  # whether it names one image (another owner's is then a 404)
    target: str = "queued"  # which of the owner's images it names
    body: Callable[[], dict] = field(default=dict)

    def call(self, client, image_id: str):
        """Send the request."""
        return client.open(self.path.format(image=image_id), method=self.method, **self.body())


def upload_form() -> dict:
    return {"data": {"file": (io.BytesIO(JPEG), "photo.jpg")}, "content_type": "multipart/form-data"}


def direct_upload_request() -> dict:
    return {"json": {"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 1000}}


ROUTES = {
    "upload": Route("POST", "/api/images", WRITE, 202, body=upload_form),
    "list": Route("GET", "/api/images", READ, 200),
    "get": Route("GET", "/api/images/{image}", READ, 200, on_image=True),
    "long-poll": Route("GET", "/api/images/{image}?wait=1&status=done", READ, 200, on_image=True),
    "delete": Route("DELETE", "/api/images/{image}", DELETE, 204, on_image=True),
    "retry": Route("POST", "/api/images/{image}/retry", WRITE, 202, on_image=True, target="failed"),
    # Local storage takes no direct uploads: 409 says so, after the key was accepted.
    "direct-upload": Route("POST", "/api/uploads", WRITE, 409, body=direct_upload_request),
    "complete": Route("POST", "/api/images/{image}/complete", WRITE, 202, on_image=True),
    "usage": Route("GET", "/api/usage", READ, 200),
    # The event stream of another owner's image is an empty stream, not a 404: it names no image it could answer for.
    "events": Route("GET", "/api/events?ids={image}", READ, 200),
    "stream-token": Route("POST", "/api/events/token", READ, 200),
    # Not behind API keys (METRICS_TOKEN guards it when set).
    "metrics": Route("GET", "/metrics", None, 200),
}

REFUSED = {
    *("no key", "malformed", "not bearer", "unknown id", "wrong secret"),
    *("revoked", "expired", "rolled, after 24 h", "page token, unknown", "cookie only"),
}
CREDENTIALS = [*sorted(REFUSED), "owner", "rolled, before 24 h", "another owner", "missing scope", "admin"]


@dataclass
class World:
    """An app with owner alice's images and every kind of key."""

    app: object
    images: dict[str, str]
    tokens: dict[str, str]


def make_token(scopes=DEFAULT_SCOPES, owner: str = "alice", **options) -> str:
    """A key (inside an app context)."""
    return keys.create_key("matrix", owner, frozenset(scopes), **options).token


@pytest.fixture
def clock(monkeypatch):
    """Move the keys' clock forward: clock(hours=25)."""
    offset = [timedelta()]
    real_now = keys.now
    monkeypatch.setattr(keys, "now", lambda: real_now() + offset[0])

    def move(**delta) -> None:
        offset[0] += timedelta(**delta)

    return move


@pytest.fixture
def world(app) -> World:
    """Alice's queued and failed images, and the keys of every credential."""
    # An event stream allowed here ends after a second instead of five minutes.
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    with app.app_context():
        tokens = {
            "owner": make_token(),
            "another owner": make_token(owner="bob"),
            "admin": make_token({ADMIN}, owner="operators"),
            "revoked": make_token(),
            "expired": make_token(expires_in=timedelta(minutes=5)),
            "rolled": make_token(),
        }
        keys.revoke_key(key_id(tokens["revoked"]))
        tokens["rolled into"] = keys.roll_key(key_id(tokens["rolled"])).token
        tokens["missing"] = {scope: make_token(DEFAULT_SCOPES - {scope}) for scope in (READ, WRITE, DELETE)}
    owner = authorize(app.test_client(), tokens["owner"])
    images = {target: owner.post("/api/images", **upload_form()).get_json()["id"] for target in ("queued", "failed")}
    with app.app_context():
        db.session.execute(update(Image).where(Image.id == images["failed"]).values(status=ImageStatus.FAILED.value))
        db.session.commit()
    return World(app, images, tokens)


def key_id(token: str) -> str:
    return token.removeprefix("pxl_").partition("_")[0]


def client_for(world: World, credential: str, route: Route, clock):
    """A test client presenting credential (moving the clock where the credential is about time)."""
    client = world.app.test_client()
    tokens = world.tokens
    secret_swapped = tokens["owner"][:-4] + ("AAAA" if not tokens["owner"].endswith("AAAA") else "BBBB")
    headers = {
        "owner": f"Bearer {tokens['owner']}",
        "another owner": f"Bearer {tokens['another owner']}",
        "admin": f"Bearer {tokens['admin']}",
        "revoked": f"Bearer {tokens['revoked']}",
        "expired": f"Bearer {tokens['expired']}",
        "rolled, before 24 h": f"Bearer {tokens['rolled']}",
        "rolled, after 24 h": f"Bearer {tokens['rolled']}",
        "malformed": "Bearer pxl_nounderscore",
        "not bearer": f"Basic {tokens['owner']}",
        "unknown id": f"Bearer pxl_{'f' * 16}_{tokens['owner'].rpartition('_')[2]}",
        "wrong secret": f"Bearer {secret_swapped}",
        "page token, unknown": "Bearer pxp_not-a-page-token",
        "missing scope": f"Bearer {tokens['missing'].get(route.scope, tokens['owner'])}",
    }
    if credential == "expired":
        clock(minutes=6)
    if credential == "rolled, before 24 h":
        clock(hours=23)
    if credential == "rolled, after 24 h":
        clock(hours=24, minutes=1)
    if credential == "cookie only":
        # A browser's session cookie (as the pages set it) is worth nothing to the API.
        client.set_cookie("session", "anything")
    if credential in headers:
        client.environ_base["HTTP_AUTHORIZATION"] = headers[credential]
    return client


def expected(route: Route, credential: str) -> tuple[int, str | None]:
    """The status and error code a credential gets from a route."""
    if route.scope is None:
        return route.allowed, None
    if credential in REFUSED:
        return 401, "unauthorized"
    if credential == "missing scope":
        return 403, "forbidden"
    if credential == "another owner" and route.on_image:
        return 404, "not_found"
    return route.allowed, ("conflict" if route.allowed == 409 else None)


def snapshot(world: World) -> tuple:
    """What a refused request must leave as it was: rows, events, statuses and files."""
    with world.app.app_context():
        statuses = dict(db.session.execute(select(Image.id, Image.status)).all())
        events = db.session.query(ImageEvent).count()
    return statuses, events, stored_keys(world.app)


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("route_name", list(ROUTES))
def test_authorization_matrix(world, clock, route_name, credential):
    route = ROUTES[route_name]
    client = client_for(world, credential, route, clock)
    before = snapshot(world)
    response = route.call(client, world.images[route.target])
    status, code = expected(route, credential)
    assert response.status_code == status, response.get_data(as_text=True)
    if code:
        assert response.get_json()["error"]["code"] == code
    if status in (401, 403, 404):
        assert snapshot(world) == before
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_api_route_is_in_the_matrix(app):
    # The webhooks routes want their own scope: tests/webhooks/test_auth.py holds them against real keys.
    rules = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api")
             and not rule.endpoint.startswith("webhooks.")
             for method in rule.methods - {"HEAD", "OPTIONS"}}  # fmt: skip
    covered = {(route.method, route.path.split("?")[0].replace("{image}", "<image_id>")) for route in ROUTES.values()}
    assert rules <= covered, rules - covered


def test_every_refused_key_gets_the_same_body(world, clock):
    bodies = set()
    for credential in sorted(REFUSED):
        client = client_for(world, credential, ROUTES["get"], clock)
        bodies.add(client.get(f"/api/images/{world.images['queued']}").get_data())
    assert len(bodies) == 1


def test_another_owners_image_is_answered_exactly_like_one_that_never_existed(world):
    bob = authorize(world.app.test_client(), world.tokens["another owner"])
    for route in (route for route in ROUTES.values() if route.on_image):
        theirs = route.call(bob, world.images[route.target])
        never = route.call(bob, NEVER_EXISTED)
        assert theirs.status_code == never.status_code == 404
        their_body = theirs.get_data(as_text=True).replace(world.images[route.target], NEVER_EXISTED)
        assert their_body == never.get_data(as_text=True)


def test_a_list_shows_only_the_owners_images_and_admin_sees_every_owner(world):
    def listed(credential: str) -> set[str]:
        client = authorize(world.app.test_client(), world.tokens[credential])
        return {item["id"] for item in client.get("/api/images").get_json()["items"]}

    assert listed("owner") == set(world.images.values())
    assert listed("another owner") == set()
    assert listed("admin") == set(world.images.values())


def test_an_admin_deletes_another_owners_image(world):
    admin = authorize(world.app.test_client(), world.tokens["admin"])
    assert admin.delete(f"/api/images/{world.images['queued']}").status_code == 204
    owner = authorize(world.app.test_client(), world.tokens["owner"])
    assert owner.get(f"/api/images/{world.images['queued']}").status_code == 404
