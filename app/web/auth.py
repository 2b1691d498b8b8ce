"""API authentication: `Authorization: Bearer <key>` on every /api route, resolved into the acting Principal.

Bearer tokens starting `pxl_` are API keys; `pxp_` tokens are the upload page's and `pxe_` stream tokens (good for
GET /api/events only), both resolved by app.web.page_session when that module is installed. The API reads no
cookie: a browser's session gives it nothing, so it needs no CSRF. Resolving a key holds no database connection
afterwards (app.pipeline.keys), so a request whose body is still arriving holds none either.
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
STREAM_TOKEN_PREFIX = "pxe_"
EVENTS_PATH = "/api/events"
URL_TOKEN_REFUSED = (
    "Send keys and page tokens as Authorization: Bearer, never in a URL; an event stream takes a stream token "
    "(POST /api/events/token) in ?access_token=."
)
# With API_AUTH=off every request acts as this: today's open API, every owner's images, every operation.
OPEN_PRINCIPAL = Principal(owner_id=LEGACY_OWNER, scopes=frozenset({ADMIN}))


def is_api_request() -> bool:
    """Whether this request is for the JSON API (every blueprint under /api, known routes or not)."""
    return request.path == API_PREFIX.rstrip("/") or request.path.startswith(API_PREFIX)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, or None (see query_token for event streams)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token and " " not in token:
        return token
    return query_token()


def is_stream_request() -> bool:
    """Whether this request opens an event stream (GET /api/events), the one route a stream token is good for."""
    return request.method == "GET" and request.path == EVENTS_PATH


def query_token() -> str | None:
    """A stream token in ?access_token= of GET /api/events: a browser's EventSource cannot send headers.

    Only stream tokens (read-only, minutes long) are taken from a URL, never API keys or page tokens (which can
    write and delete for a day), and only for the event stream: URLs end up in logs and histories.
    """
    token = request.args.get("access_token", "")
    return token if is_stream_request() and token.startswith(STREAM_TOKEN_PREFIX) else None


def resolve(token: str | None) -> Principal | None:
    """The principal a bearer token stands for, or None when it stands for nothing (here)."""
    if token is None:
        return None
    if token.startswith(keys.PREFIX):
        return keys.authenticate(token)
    if token.startswith(PAGE_TOKEN_PREFIX):
        return page_session_resolver("principal_from_page_token", token)
    if token.startswith(STREAM_TOKEN_PREFIX) and is_stream_request():
        return page_session_resolver("principal_from_stream_token", token)
    return None


def page_session_resolver(name: str, token: str) -> Principal | None:
    """A page or stream token's principal, through app.web.page_session if it exists (else the token is unknown)."""
    try:
        page_session = importlib.import_module("app.web.page_session")
    except ModuleNotFoundError:
        return None
    resolver = getattr(page_session, name, None)
    return resolver(token) if resolver else None


def unauthorized(message: str | None = None):
    """The one 401 every refused key gets, whatever was wrong with it."""
    response = make_response(error_response(Unauthorized(message)))
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
        return unauthorized(URL_TOKEN_REFUSED if has_credential_in_url() else None)
    g.principal = principal
    return None


def has_credential_in_url() -> bool:
    """Whether ?access_token= holds something other than a stream token of an event stream (never taken)."""
    token = request.args.get("access_token", "")
    return bool(token) and not (is_stream_request() and token.startswith(STREAM_TOKEN_PREFIX))


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
