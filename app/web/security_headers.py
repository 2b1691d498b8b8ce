"""Security headers for the HTML pages: the browser runs only the app's own scripts and styles."""

from flask import Flask, Response, current_app, request

# Only same-origin scripts, styles, images and fetches; no inline script or style, no plug-ins, no framing.
# blob: images are the local previews the upload page shows while a file is still uploading.
DEFAULT_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "blob:"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "frame-ancestors": ["'none'"],
}

# Blueprints whose pages bring their own inline scripts and are not ours to restrict (rq-dashboard).
EXEMPT_BLUEPRINTS = {"rq_dashboard"}


def directives(app: Flask) -> dict[str, list[str]]:
    """The app's CSP directives (a copy of the defaults, extended with add_sources)."""
    return app.extensions.setdefault("csp", {name: list(sources) for name, sources in DEFAULT_DIRECTIVES.items()})


def add_sources(app: Flask, directive: str, *sources: str) -> None:
    """Allow more sources for one directive, e.g. a bucket's origin in img-src and connect-src."""
    allowed = directives(app).setdefault(directive, [])
    allowed.extend(source for source in sources if source not in allowed)


def content_security_policy(app: Flask) -> str:
    """The policy header value."""
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives(app).items())


def add_security_headers(response: Response) -> Response:
    """Give HTML responses the CSP and companions, leaving any header a view set itself alone."""
    if response.mimetype != "text/html" or request.blueprint in EXEMPT_BLUEPRINTS:
        return response
    response.headers.setdefault("Content-Security-Policy", content_security_policy(current_app))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Register the header hook."""
    directives(app)
    app.after_request(add_security_headers)
