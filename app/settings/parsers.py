"""How a setting's text becomes its value, and the rule it must meet: one small class per kind of value.

A parser's `parse(text)` returns the value or raises ValueError; `check(value)` holds a value given in code (a
test's override) to the same rule; `rule` completes "NAME must be …" in the error line, `values` fills the docs'
"values" column, and `bad` is a text the rule refuses (the walk-every-setting test sends it to every process).
"""

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
HOST_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){HOST_LABEL}(\.{HOST_LABEL})*$")


class Parser:
    """A kind of value: text in, typed value out, refused with the rule."""

    rule = "a valid value"
    values = ""
    bad: str | None = None
    # Set instead of `bad` by a parser that takes any text; says why (the walk-every-setting test prints it).
    any_text_because: str | None = None
    # Whether a refused value may be echoed in the error line (never for secrets and passwords).
    shows_value = True

    def parse(self, text: str) -> Any:
        """The value of text, or ValueError."""
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """A value given in code, held to the same rule (text is parsed)."""
        return self.parse(value) if isinstance(value, str) else value

    def problem(self, name: str, text: str, error: ValueError) -> str:
        """The one line that names the setting and the rule."""
        return f"{name} must be {self.rule}, not {self.shown(text)}"

    def shown(self, text: str) -> str:
        """The refused text as an error line may show it."""
        return repr(text) if self.shows_value else "the value given (not shown: it may be a secret)"


class Int(Parser):
    """A whole number, optionally within minimum..maximum."""

    def __init__(self, minimum: int | None = None, maximum: int | None = None, why: str = ""):
        """Bounds are inclusive; why (e.g. "S3 presigns for at most 7 days") follows the rule in the error line."""
        self.minimum, self.maximum = minimum, maximum
        bounds = self._bounds()
        self.rule = f"a whole number{bounds}" + (f" ({why})" if why else "")
        self.values = f"whole number{bounds}"
        self.bad = str(minimum - 1) if minimum is not None else str(maximum + 1) if maximum is not None else "1.5"

    def _bounds(self) -> str:
        """' from 1 to 65535', ' ≥ 0', ' ≤ 10' or ''."""
        if self.minimum is not None and self.maximum is not None:
            return f" from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f" ≥ {self.minimum}"
        return f" ≤ {self.maximum}" if self.maximum is not None else ""

    def parse(self, text: str) -> int:
        """The number, inside the bounds."""
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError("not a whole number") from None
        return self.check(value)

    def check(self, value: Any) -> int:
        """value, if a whole number inside the bounds."""
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("not a whole number")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ValueError("out of bounds")
        return value


class Port(Int):
    """A TCP port number."""

    def __init__(self):
        super().__init__(1, 65535)
        self.rule, self.values, self.bad = "a TCP port from 1 to 65535", "port 1–65535", "99999"


class Bool(Parser):
    """Yes or no: 1/true/yes/on or 0/false/no/off (any case)."""

    rule = "1 or 0 (or true/false, yes/no, on/off)"
    values = "`1` or `0` (or on/off, true/false, yes/no)"
    bad = "maybe"

    def parse(self, text: str) -> bool:
        """True or False."""
        word = text.strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(word)

    def check(self, value: Any) -> bool:
        """value, if a bool (text is parsed)."""
        if isinstance(value, str):
            return self.parse(value)
        if not isinstance(value, bool):
            raise ValueError("not a bool")
        return value


class Choice(Parser):
    """One of a few words (any case); stored lower case, or upper case with upper=True."""

    def __init__(self, *words: str, upper: bool = False):
        self.words, self.upper = words, upper
        self.rule = f"one of {', '.join(words)}"
        self.values = ", ".join(f"`{word}`" for word in words)
        self.bad = "nonsense"

    def parse(self, text: str) -> str:
        """The word, normalised."""
        word = text.strip().upper() if self.upper else text.strip().lower()
        if word not in self.words:
            raise ValueError(word)
        return word


class Text(Parser):
    """Any text, or text matching a pattern (whose meaning `rule` says)."""

    def __init__(self, pattern: str | None = None, rule: str = "", bad: str | None = None, because: str = "",
                 secret: bool = False, values: str = "any text"):  # fmt: skip
        self.pattern = re.compile(pattern) if pattern else None
        self.rule, self.bad, self.any_text_because = rule or "any text", bad, because or None
        self.values = rule if pattern else values
        self.shows_value = not secret
        if (self.pattern is None) == (because == ""):
            raise TypeError("a Text parser has a pattern (and a bad example) or says why it takes any text")

    def parse(self, text: str) -> str:
        """The text, if it matches."""
        if self.pattern is not None and not self.pattern.fullmatch(text):
            raise ValueError(text)
        return text


class Host(Parser):
    """A host name or an IP address to listen on."""

    rule = "a host name or an IP address"
    values = "host name or IP address"
    bad = "no such host!"

    def parse(self, text: str) -> str:
        """The host."""
        text = text.strip()
        if not HOST_NAME.match(text):
            ipaddress.ip_address(text)  # ValueError when it is neither
        return text


class Addresses(Parser):
    """Comma-separated IP addresses or networks, or * for any."""

    rule = "* or comma-separated IP addresses or networks (no host bits: 10.0.0.0/8, not 10.1.2.3/8)"
    values = "`*` or IP addresses/networks, comma-separated"
    bad = "10.0.0.300"

    def parse(self, text: str) -> str:
        """The list as given (as strict as gunicorn, which reads it too)."""
        for entry in (part.strip() for part in text.split(",") if part.strip()):
            if entry != "*":
                ipaddress.ip_network(entry)
        return text.strip()


class Url(Parser):
    """A URL of one of a few schemes, with a host (or a path for unix://)."""

    def __init__(self, *schemes: str, example: str, bare_host: bool = False, secret_password: bool = True):
        self.schemes, self.bare_host, self.secret_password = schemes, bare_host, secret_password
        kinds = ", ".join(f"{scheme}://" for scheme in schemes)
        self.rule = f"a URL ({kinds}) such as {example}" + (" or host:port" if bare_host else "")
        self.values = f"URL ({kinds})" + (" or host:port" if bare_host else "")
        self.bad = "ftp://example.com" if "ftp" not in schemes else "no-scheme"

    def parse(self, text: str) -> str:
        """The URL as given, if it parses."""
        text = text.strip()
        url = urlsplit(text if "://" in text or not self.bare_host else f"http://{text}")
        if url.scheme not in self.schemes and not (self.bare_host and "://" not in text):
            raise ValueError(text)
        if not url.hostname and url.scheme != "unix":
            raise ValueError(text)
        url.port  # noqa: B018 - ValueError for a port that is not a number from 0 to 65535
        return text

    def shown(self, text: str) -> str:
        """The URL with its password hidden."""
        return repr(without_password(text))


def without_password(text: str) -> str:
    """A URL with its password (if any) replaced by ***."""
    try:
        url: SplitResult = urlsplit(text)
        password = url.password
    except ValueError:
        return text
    return text.replace(f":{password}@", ":***@", 1) if password else text


class DatabaseUrl(Url):
    """An SQLAlchemy database URL whose dialect SQLAlchemy knows."""

    def __init__(self):
        super().__init__("sqlite", "postgresql", example="sqlite:///path/pixline.db or postgresql://user@host/db")
        self.rule = "an SQLAlchemy URL such as sqlite:///path/pixline.db or postgresql://user@host/db"
        self.values, self.bad = "SQLAlchemy URL", "pixline.db"

    def parse(self, text: str) -> str:
        """The URL, if SQLAlchemy parses it and has its dialect and driver."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            dialect = make_url(text.strip()).get_dialect()
        except (ArgumentError, NoSuchModuleError) as error:
            raise ValueError(str(error)) from None
        try:
            dialect.import_dbapi()
        except ImportError as error:
            raise MissingDriver(f"needs a database driver that is not installed ({error})") from None
        return text.strip()

    def problem(self, name: str, text: str, error: ValueError) -> str:
        """The rule, or which driver is missing."""
        if isinstance(error, MissingDriver):
            return f"{name} {error}: {self.shown(text)}"
        return super().problem(name, text, error)


class MissingDriver(ValueError):
    """A database URL SQLAlchemy understands, whose driver package is not installed."""


class SecondsList(Parser):
    """Comma-separated whole seconds, or none for an empty list."""

    rule = "comma-separated whole seconds (or none)"
    values = "seconds, comma-separated, or `none`"
    bad = "5,soon"

    def parse(self, text: str) -> tuple[int, ...]:
        """The seconds, in order."""
        if text.strip().lower() == "none":
            return ()
        values = tuple(int(part) for part in text.split(","))
        if any(value < 0 for value in values):
            raise ValueError(text)
        return values


class Grammar(Parser):
    """A value with its own grammar, parsed by the function that owns it (its ValueError says what is wrong)."""

    def __init__(self, parse: Callable[[str], Any], values: str, bad: str, keep_text: bool = True,
                 secret: bool = False):  # fmt: skip
        self.function, self.values, self.bad, self.keep_text = parse, values, bad, keep_text
        self.rule, self.shows_value = values, not secret

    def parse(self, text: str) -> Any:
        """The text (or the function's value with keep_text=False), if the function accepts it."""
        value = self.function(text.strip())
        return text.strip() if self.keep_text else value

    def check(self, value: Any) -> Any:
        """value held to the grammar (a list or tuple is joined with commas first)."""
        if isinstance(value, list | tuple):
            value = ",".join(value)
        return self.parse(value) if isinstance(value, str) else value

    def problem(self, name: str, text: str, error: ValueError) -> str:
        """The grammar's own words, after the setting's name."""
        message = str(error)
        if message.startswith(name):
            return message
        return f"{name} {message}" if message.startswith("must ") else f"{name}: {message}"
