"""A Flask test client as one browser: the page's cookie on the pages, the page's token on the API."""

import re

TOKEN_META = re.compile(r'<meta name="pixline-page-token" content="(pxp_[^"]+)">')


def page_token(client) -> str:
    """The page token the upload page hands this client (its owner cookie is set on the way)."""
    return TOKEN_META.search(client.get("/").get_data(as_text=True)).group(1)


def as_browser(client):
    """Make client act as one browser: its API calls carry the page token of the owner its cookie names."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {page_token(client)}"
    return client
