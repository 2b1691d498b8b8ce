"""Cookie-less visits: each visit to the upload page is a new anonymous owner, which uploads with its page token.

Before issue 22 every such owner had a fresh quota: five visits uploaded 10 photos under QUOTA_UPLOADS_PER_DAY=4.
Anonymous owners now share the quota of their client network. `make bench` reuses this class for its table.
"""

from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.browsers import TOKEN_META
from tests.support.stack import RunningStack


@dataclass
class CookielessVisits:
    """`visits` cookie-less visits from one address, each uploading `per_visit` photos with its page's token."""

    stack: RunningStack
    photo: Path
    visits: int = 5
    per_visit: int = 2
    answers: list[tuple[int, str | None]] = field(default_factory=list)

    def run(self) -> "CookielessVisits":
        """Visit and upload, one visit after another; every answer's status and error code is kept."""
        for _ in range(self.visits):
            token = self.visit()
            for _ in range(self.per_visit):
                self.answers.append(self.upload(token))
        return self

    def visit(self) -> str:
        """Load the upload page with no cookie (a new anonymous owner); the page token it hands out."""
        page = requests.get(f"{self.stack.url}/", timeout=30)
        assert page.status_code == 200, page.text[:500]
        return TOKEN_META.search(page.text).group(1)

    def upload(self, token: str) -> tuple[int, str | None]:
        """Upload the photo as the page's script does (Bearer page token); its status and error code."""
        answer = self.stack.upload(self.photo, key=token)
        return answer.status_code, (answer.json().get("error") or {}).get("code") if answer.status_code != 202 else None

    def accepted(self) -> int:
        """How many uploads were taken (202)."""
        return sum(1 for status, _ in self.answers if status == 202)

    def refusals(self) -> list[tuple[int, str | None]]:
        """The answers that were not 202."""
        return [answer for answer in self.answers if answer[0] != 202]
