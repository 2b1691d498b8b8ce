"""The upload page's visitors: an anonymous owner per browser, in a signed cookie, and the page token its scripts send.

A browser needs no key: on its first visit it gets an owner id `anon_<random>` in a signed, HttpOnly, SameSite=Lax
cookie; the pages act within that owner. The page's scripts never use the cookie (the API reads none): the page
carries a short-lived `pxp_…` token for the same owner, which they send as Bearer and app.web.auth resolves here.
A browser signed in through make run's one-time link (app.web.page_signin) acts as that key's owner instead.
"""

import secrets

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from app.pipeline.access import DELETE, READ, WRITE, Principal
from app.web import page_signin

OWNER_COOKIE = "pixline_owner"
OWNER_PREFIX = "anon_"
TOKEN_PREFIX = "pxp_"
# A token lives a day; every page load hands out a fresh one, so an open tab keeps working through the day.
TOKEN_MAX_AGE = 24 * 3600
# A stream token opens event streams (GET /api/events) of one owner and does nothing else. It rides in a URL, the
# only place EventSource can put it, so it is short-lived: the page mints a fresh one for each stream it opens.
STREAM_TOKEN_PREFIX = "pxe_"
STREAM_TOKEN_MAX_AGE = 300
# The longest browsers keep a cookie: the owner, and so the gallery, outlives any single visit.
COOKIE_MAX_AGE = 400 * 24 * 3600
# Separate salts: a cookie value is never a valid page token, nor a token a valid cookie.
COOKIE_SALT = "pixline.page-owner"
TOKEN_SALT = "pixline.page-token"
STREAM_TOKEN_SALT = "pixline.stream-token"
MAX_OWNER_CHARS = 64


def is_anonymous_owner(owner_id: object) -> bool:
    """Whether owner_id is one of the page's anonymous owners (never a key's owner, never 'legacy')."""
    return isinstance(owner_id, str) and owner_id.startswith(OWNER_PREFIX) and len(owner_id) <= MAX_OWNER_CHARS


def new_owner_id() -> str:
    """A fresh anonymous owner: 128 random bits."""
    return OWNER_PREFIX + secrets.token_hex(16)


def page_uploads() -> bool:
    """Whether the page offers uploads (PAGE_UPLOADS)."""
    return current_app.config["PAGE_UPLOADS"]


def page_scopes() -> frozenset[str]:
    """What a browser may do with its own images: read and delete them, and upload unless PAGE_UPLOADS is off."""
    return frozenset({READ, DELETE, WRITE}) if page_uploads() else frozenset({READ, DELETE})


def owner_from_cookie() -> str | None:
    """The owner this browser's cookie names, if the cookie is there and genuine."""
    raw = request.cookies.get(OWNER_COOKIE)
    if not raw:
        return None
    try:
        owner_id = _cookie_serializer().loads(raw)
    except BadSignature:
        return None
    return owner_id if is_anonymous_owner(owner_id) else None


def page_owner() -> str:
    """The owner this browser signed in as, else its anonymous owner: its cookie's, or a new one (set on the reply)."""
    if "page_owner" not in g:
        g.page_owner_is_signed_in = bool(signed_in := page_signin.signed_in_owner())
        owner_id = signed_in or owner_from_cookie()
        g.page_owner_is_new = owner_id is None
        g.page_owner = owner_id or new_owner_id()
    return g.page_owner


def page_principal() -> Principal:
    """Who a page view acts for: this browser's owner, with the page's scopes."""
    return Principal(owner_id=page_owner(), scopes=page_scopes())


def page_token_for(owner_id: str, is_signed_in: bool = False) -> str:
    """A page token for owner_id, valid TOKEN_MAX_AGE seconds: 'pxp_' and a timestamped signature (SECRET_KEY)."""
    # A signed-in browser's token says so: a token naming a key's owner is never taken for an anonymous one's.
    claims = {"owner": owner_id, "signed_in": True} if is_signed_in else owner_id
    return TOKEN_PREFIX + _token_serializer().dumps(claims)


def page_token() -> str | None:
    """The token to put in this page for its scripts, or None for a browser that owns nothing and may add nothing."""
    owner_id = page_owner()
    if g.page_owner_is_new and not page_uploads():
        return None
    return page_token_for(owner_id, g.page_owner_is_signed_in)


def principal_from_page_token(token: str) -> Principal | None:
    """The principal of a genuine, unexpired page token, else None (app.web.auth answers 401)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        claims = _token_serializer().loads(token.removeprefix(TOKEN_PREFIX), max_age=TOKEN_MAX_AGE)
    except BadSignature:  # SignatureExpired included
        return None
    owner_id = claims if is_anonymous_owner(claims) else page_signin.owner_of_page_claims(claims)
    if owner_id is None:
        return None
    return Principal(owner_id=owner_id, scopes=page_scopes())


def stream_token_for(owner_id: str) -> str:
    """A stream token of owner_id (any owner: a page's, or a key's), valid STREAM_TOKEN_MAX_AGE seconds."""
    return STREAM_TOKEN_PREFIX + _token_serializer(STREAM_TOKEN_SALT).dumps(owner_id)


def principal_from_stream_token(token: str) -> Principal | None:
    """Who a genuine, unexpired stream token reads for: its owner, with images:read only; else None."""
    if not token.startswith(STREAM_TOKEN_PREFIX):
        return None
    try:
        owner_id = _token_serializer(STREAM_TOKEN_SALT).loads(
            token.removeprefix(STREAM_TOKEN_PREFIX), max_age=STREAM_TOKEN_MAX_AGE
        )
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(owner_id, str) or not owner_id or len(owner_id) > MAX_OWNER_CHARS:
        return None
    return Principal(owner_id=owner_id, scopes=frozenset({READ}))


def keep_owner_cookie(response: Response) -> Response:
    """after_request of the pages: (re)set the owner cookie, and keep per-browser pages out of shared caches."""
    if "page_owner" not in g:
        return response
    # Without page uploads a new browser could own nothing: it gets no cookie; one that has a cookie keeps it.
    # A signed-in browser's anonymous cookie is left as it is, for when it signs out.
    if not g.page_owner_is_signed_in and (not g.page_owner_is_new or page_uploads()):
        response.set_cookie(
            OWNER_COOKIE,
            _cookie_serializer().dumps(g.page_owner),
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    # The page holds this browser's gallery and its token: no shared cache, no back-button copy served to another.
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response


def _cookie_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=COOKIE_SALT)


def _token_serializer(salt: str = TOKEN_SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)
