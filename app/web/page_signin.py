"""The local operator on the page: a one-time sign-in link makes a browser act as the owner of `make run`'s key.

Each browser is its own anonymous owner (app.web.page_session), so images uploaded with the API key never show on
the page. `make run` prints `<base>/signin#pxs_…` on its terminal (never in a JSON log line). The token names the
owner (`local`) and a random nonce, signed with SECRET_KEY and good for LINK_MAX_AGE; it rides in the fragment, which
no browser sends, so no access log or Referer ever holds it: the sign-in page's script posts it. Redis remembers each
redeemed nonce until the link would have expired anyway, so a link works once. The browser then carries a signed
session cookie naming that owner; signing out drops it and the browser is its anonymous owner again.
"""

import secrets
from pathlib import Path

from flask import Response, current_app, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from redis.exceptions import RedisError

from app import settings
from app.exceptions import Forbidden, Unavailable

LINK_PREFIX = "pxs_"
# Long enough to read the banner, open a browser and click; short enough that an unused link soon means nothing.
LINK_MAX_AGE = 30 * 60
SESSION_COOKIE = "pixline_signin"
SESSION_MAX_AGE = 30 * 24 * 3600
# Salts of their own: a link is never a session, a page token or an owner cookie, nor the other way round.
LINK_SALT = "pixline.signin-link"
SESSION_SALT = "pixline.signin-session"
USED_KEY = "pixline:signin:used:{nonce}"
MAX_OWNER_CHARS = 64
# Where the app keeps its SECRET_KEY when none is set (app/__init__.py _instance_secret).
SECRET_FILE = "secret_key"
AGAIN = "Stop make run and start it again: its banner prints a new link."


class SigninRefused(Forbidden):
    """A sign-in link that cannot be used; the message says why and what to do."""


def is_owner_name(owner_id: object) -> bool:
    """Whether owner_id could be a key's owner (1 to 64 characters)."""
    return isinstance(owner_id, str) and 0 < len(owner_id) <= MAX_OWNER_CHARS and owner_id == owner_id.strip()


def owner_of_page_claims(claims: object) -> str | None:
    """The owner a signed-in browser's page token names ({"owner": …, "signed_in": true}), else None."""
    if not isinstance(claims, dict) or claims.get("signed_in") is not True:
        return None
    return claims["owner"] if is_owner_name(claims.get("owner")) else None


def signin_token(secret_key: str, owner_id: str) -> str:
    """A one-time sign-in token for owner_id: 'pxs_' and a timestamped signature of the owner and a fresh nonce."""
    serializer = URLSafeTimedSerializer(secret_key, salt=LINK_SALT)
    return LINK_PREFIX + serializer.dumps({"owner": owner_id, "nonce": secrets.token_urlsafe(16)})


def signin_url(base_url: str, secret_key: str, owner_id: str) -> str:
    """The link to open: the sign-in page, the token in its fragment (never sent to a server, never logged)."""
    return f"{base_url.rstrip('/')}/signin#{signin_token(secret_key, owner_id)}"


def banner_lines(base_url: str, instance: Path, is_json: bool, owner_id: str = "local") -> list[str]:
    """make run's banner line with a fresh sign-in link; none in a JSON log line, or before the app has a secret."""
    secret_file = Path(instance) / SECRET_FILE
    secret_key = settings.read()["SECRET_KEY"] or (secret_file.read_text().strip() if secret_file.exists() else "")
    if is_json or not secret_key:
        return []
    minutes = LINK_MAX_AGE // 60
    link = signin_url(base_url, secret_key, owner_id)
    return [f"  your images  {link}  (a sign-in link for your browser: it opens once, within {minutes} min)"]


def redeem(token: str) -> str:
    """The owner a genuine, unexpired, unused sign-in token names; it is used up. SigninRefused otherwise."""
    # Without JavaScript a person pastes the code, or the whole link: only what follows '#' counts.
    token = token.strip().rpartition("#")[2].removeprefix(LINK_PREFIX)
    try:
        claims = _link_serializer().loads(token, max_age=LINK_MAX_AGE)
    except SignatureExpired:
        minutes = LINK_MAX_AGE // 60
        raise SigninRefused(f"This sign-in link has expired: links work for {minutes} minutes. " + AGAIN) from None
    except BadSignature:
        raise SigninRefused("This is not a sign-in link this server made. Copy the whole link. " + AGAIN) from None
    if not isinstance(claims, dict) or not is_owner_name(claims.get("owner")) or not claims.get("nonce"):
        raise SigninRefused("This is not a sign-in link this server made. " + AGAIN)
    if not _use_once(str(claims["nonce"])):
        raise SigninRefused("This sign-in link has been used already: each link works once. " + AGAIN)
    return claims["owner"]


def _use_once(nonce: str) -> bool:
    """Mark the nonce used; False if it already was (Redis down: refused, never let through twice)."""
    # Imported here: make run's supervisor mints links through this module and needs no app extensions for it.
    from app.extensions import redis_queue

    try:
        return bool(redis_queue.connection.set(USED_KEY.format(nonce=nonce), 1, nx=True, ex=LINK_MAX_AGE + 60))
    except RedisError:
        raise Unavailable("Sign-in cannot be checked right now; try the link again shortly.") from None


def signed_in_owner() -> str | None:
    """The owner this browser signed in as, if its session cookie is there, genuine and not too old."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        owner_id = _session_serializer().loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    return owner_id if is_owner_name(owner_id) else None


def start_session(response: Response, owner_id: str) -> Response:
    """Make the browser act as owner_id from its next request (a signed, HttpOnly, SameSite=Lax cookie)."""
    value = _session_serializer().dumps(owner_id)
    options = {"httponly": True, "samesite": "Lax", "secure": request.is_secure}
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE, **options)
    return response


def end_session(response: Response) -> Response:
    """Back to the browser's anonymous owner."""
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def _link_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def _session_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SESSION_SALT)
