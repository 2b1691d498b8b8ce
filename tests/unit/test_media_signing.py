"""Signing media URLs: what verifies, what does not, and how key rotation and expiry rounding behave."""

import pytest

from app.storage.signing import MediaSigner, expiry, parse_signing_keys, verify

NOW = 1_750_000_000
PATH = "/media/variants/abc/thumb.webp"
OLD = {"k1": b"the-old-secret-0123456789"}
ROTATED = {"k2": b"the-new-secret-0123456789", **OLD}
NEW_ONLY = {"k2": ROTATED["k2"]}


def signed(keys: dict[str, bytes], path: str = PATH, now: float = NOW, ttl: int = 3600) -> tuple[str, str]:
    """The exp and sig a signer with keys writes for path."""
    query = MediaSigner(keys, ttl).sign(path, now=now).partition("?")[2]
    fields = dict(part.split("=", 1) for part in query.split("&"))
    return fields["exp"], fields["sig"]


def test_a_fresh_signature_verifies_until_its_expiry():
    exp, sig = signed(OLD)
    assert verify(OLD, PATH, exp, sig, NOW) == int(exp)
    assert verify(OLD, PATH, exp, sig, int(exp) - 1) == int(exp)


def test_an_expired_signature_is_refused():
    exp, sig = signed(OLD)
    assert verify(OLD, PATH, exp, sig, int(exp)) is None


def test_a_tampered_path_is_refused():
    exp, sig = signed(OLD)
    assert verify(OLD, "/media/variants/abd/thumb.webp", exp, sig, NOW) is None
    assert verify(OLD, "/media/originals/abc.jpg", exp, sig, NOW) is None


def test_a_tampered_expiry_is_refused():
    exp, sig = signed(OLD)
    assert verify(OLD, PATH, str(int(exp) + 3600), sig, NOW) is None


def test_a_tampered_mac_is_refused():
    exp, sig = signed(OLD)
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert verify(OLD, PATH, exp, flipped, NOW) is None


def test_an_old_key_still_verifies_while_it_is_listed():
    exp, sig = signed(OLD)
    assert sig.startswith("k1.")
    assert verify(ROTATED, PATH, exp, sig, NOW) == int(exp)


def test_an_old_key_is_refused_once_removed():
    exp, sig = signed(OLD)
    assert verify(NEW_ONLY, PATH, exp, sig, NOW) is None


def test_the_first_listed_key_signs():
    assert signed(ROTATED)[1].startswith("k2.")


def test_an_unknown_key_id_is_refused():
    exp, sig = signed(OLD)
    assert verify(OLD, PATH, exp, "k9." + sig.partition(".")[2], NOW) is None


def test_a_mac_under_one_key_id_does_not_pass_under_another():
    exp, sig = signed({"k1": b"same-secret-for-both-ids", "k2": b"same-secret-for-both-ids"})
    keys = {"k1": b"same-secret-for-both-ids", "k2": b"same-secret-for-both-ids"}
    assert verify(keys, PATH, exp, "k2." + sig.partition(".")[2], NOW) is None


@pytest.mark.parametrize(
    ("exp", "sig"),
    [(None, None), ("", ""), (None, "k1.x"), ("1", None), ("-5", "k1.x"), ("1e9", "k1.x"), ("9" * 11, "k1.x")],
)
def test_missing_or_malformed_fields_are_refused(exp, sig):
    assert verify(OLD, PATH, exp, sig, NOW) is None


def test_a_signature_without_key_id_is_refused():
    exp, sig = signed(OLD)
    assert verify(OLD, PATH, exp, sig.partition(".")[2], NOW) is None


def test_a_non_ascii_signature_is_refused_not_an_error():
    exp, _ = signed(OLD)
    assert verify(OLD, PATH, exp, "k1.é", NOW) is None


def test_expiry_is_at_least_a_ttl_away_and_on_a_half_ttl_boundary():
    for now in range(NOW, NOW + 7200, 97):
        expires = expiry(now, 3600)
        assert now + 3600 <= expires < now + 3600 + 1800
        assert expires % 1800 == 0


def test_urls_made_within_one_half_ttl_window_are_identical():
    start = expiry(NOW, 3600) - 3600 - 1800 + 1
    urls = {MediaSigner(OLD, 3600).sign(PATH, now=now) for now in range(start, start + 1800)}
    assert len(urls) == 1


def test_signing_keys_parse_in_order():
    keys = parse_signing_keys(" new:0123456789abcdef0 , old:fedcba98765432100 ")
    assert list(keys) == ["new", "old"]
    assert keys["old"] == b"fedcba98765432100"


@pytest.mark.parametrize(
    "raw", ["", ",", "nosecret", ":0123456789abcdef0", "a.b:0123456789abcdef0", "k:short", "k:0123456789abcdef0,j:x"]
)
def test_unreadable_signing_keys_are_refused(raw):
    with pytest.raises(ValueError):
        parse_signing_keys(raw)


def test_a_key_id_listed_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        parse_signing_keys("k:0123456789abcdef0,k:0123456789abcdef1")
