"""API authentication: `Authorization: Bearer <key>` on every /api route, resolved into the acting Principal.

Bearer tokens starting `pxl_` are API keys; `pxp_` tokens are the upload page's, resolved by app.web.page_session
when that module is installed. The API reads no cookie: a browser's session gives it nothing, so it needs no CSRF.
"""

import importlib
import logging

from flask import Flask, current_app, g, make_response, request

from app.exceptions import Forbidden, Unauthorized
from app.pipeline import keys
from app.pipeline.access import ADMIN, LEGACY_OWNER, Principal
from app.web.errors import error_response

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
PAGE_TOKEN_PREFIX = "pxp_"
EVENTS_PATH = "/api/events"
# With API_AUTH=off every request acts as this: today's open API, every owner's images, every operation.
OPEN_PRINCIPAL = Principal(owner_id=LEGACY_OWNER, scopes=frozenset({ADMIN}))


def is_api_request() -> bool:
    """Whether this request is for the JSON API (every blueprint under /api, known routes or not)."""
    return request.path == API_PREFIX.rstrip("/") or request.path.startswith(API_PREFIX)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, or None (see query_page_token for event streams)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token and " " not in token:
        return token
    return query_page_token()


def query_page_token() -> str | None:
    """A page token in ?access_token= of GET /api/events: a browser's EventSource cannot send headers.

    Only page tokens (a day long, one browser's owner) are taken from a URL, never API keys, and only for the
    event stream: URLs end up in logs and histories.
    """
    token = request.args.get("access_token", "")
    is_stream = request.method == "GET" and request.path == EVENTS_PATH
    return token if is_stream and token.startswith(PAGE_TOKEN_PREFIX) else None


def resolve(token: str | None) -> Principal | None:
    """The principal a bearer token stands for, or None when it stands for nothing."""
    if token is None:
        return None
    if token.startswith(keys.PREFIX):
        return keys.authenticate(token)
    if token.startswith(PAGE_TOKEN_PREFIX):
        return page_principal(token)
    return None


def page_principal(token: str) -> Principal | None:
    """A page token's principal, through app.web.page_session if it exists (else the token is unknown)."""
    try:
        page_session = importlib.import_module("app.web.page_session")
    except ModuleNotFoundError:
        return None
    resolver = getattr(page_session, "principal_from_page_token", None)
    return resolver(token) if resolver else None


def unauthorized():
    """The one 401 every refused key gets, whatever was wrong with it."""
    response = make_response(error_response(Unauthorized()))
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def authenticate_api():
    """before_request: put the acting principal in g.principal, or answer 401."""
    if not is_api_request():
        return None
    if current_app.config["API_AUTH"] == "off":
        g.principal = OPEN_PRINCIPAL
        return None
    principal = resolve(bearer_token())
    if principal is None:
        return unauthorized()
    g.principal = principal
    return None


def current_principal() -> Principal:
    """Who this API request acts for (set by authenticate_api)."""
    return g.principal


def require(scope: str) -> Principal:
    """The acting principal, if it holds scope; else 403 forbidden."""
    principal = current_principal()
    if not principal.may(scope):
        raise Forbidden(f"This key does not have the {scope} scope.")
    return principal


def init_app(app: Flask) -> None:
    """Register the hook (before the rate limit, which counts per owner); warn when the API is open."""
    if app.config["API_AUTH"] == "off":
        log.warning("API_AUTH=off: the API asks for no key; anyone who reaches it can read and delete every image")
    app.before_request(authenticate_api)
