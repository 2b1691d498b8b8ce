"""The SSRF guard: which URLs are refused, and that the sender connects only to the address that was checked."""

import socket

import pytest

from app.exceptions import WebhookUrlRefused
from app.pipeline.webhooks import sender, ssrf
from tests.support.receiver import Receiver

REFUSED_ADDRESSES = [
    "http://127.0.0.1/hooks",
    "http://[::1]/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hooks",
    "http://172.16.0.1/hooks",
    "http://192.168.1.1/hooks",
    "http://100.64.0.1/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://[::ffff:10.0.0.1]/hooks",
    "http://[64:ff9b::a00:1]/hooks",
    "http://[2002:7f00:1::]/hooks",
    "http://[fe80::1]/hooks",
    "http://[fc00::1]/hooks",
    "http://0.0.0.0/hooks",
    "http://224.0.0.1/hooks",
    "http://2130706433/hooks",
    "http://localhost/hooks",
]
# Site-local (fec0::/10), which Python 3.11 calls global, in the spellings a URL can give it.
SITE_LOCAL = [
    "https://[fec0::1]/",
    "https://[FEC0:0:0:0:0:0:0:1]/",
    "https://[fec0::127.0.0.1]/",
    "https://[feff:ffff::1]/",
]


@pytest.mark.parametrize("url", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused_without_the_switch(url):
    with pytest.raises(WebhookUrlRefused) as refused:
        ssrf.check_url(url, allow_http=True)
    assert refused.value.code == "webhook_url_refused"


@pytest.mark.parametrize("url", SITE_LOCAL)
def test_site_local_addresses_are_refused(url):
    with pytest.raises(WebhookUrlRefused, match="a site-local address"):
        ssrf.check_url(url)


def test_a_name_resolving_to_a_site_local_address_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["2606:2800:220:1:248:1893:25c8:1946", "fec0::1"]})
    with pytest.raises(WebhookUrlRefused, match="fec0::1, a site-local address"):
        ssrf.check_url("https://hooks.example.com/in")


@pytest.mark.parametrize("url", ["https://[::ffff:10.0.0.1]/", "https://[::ffff:fec0:1]/", "https://[3fff::1]/"])
def test_embedded_and_documentation_addresses_are_refused(url):
    with pytest.raises(WebhookUrlRefused):
        ssrf.check_url(url)


@pytest.mark.parametrize("url", REFUSED_ADDRESSES[:2] + ["http://localhost/hooks"])
def test_the_private_switch_lets_loopback_through(url):
    target = ssrf.check_url(url, allow_http=True, allow_private=True)
    assert target.addresses


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(WebhookUrlRefused, match="10.1.2.3"):
        ssrf.check_url("https://hooks.example.com/in")


def test_a_name_resolving_only_to_public_addresses_is_taken(monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})
    target = ssrf.check_url("https://hooks.example.com:8443/in?x=1")
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in?x=1")
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")


@pytest.mark.parametrize(
    ("url", "allow_http", "reason"),
    [
        ("http://93.184.216.34/", False, "https://"),
        ("ftp://93.184.216.34/", True, "https://"),
        ("https://user:pass@93.184.216.34/", False, "credentials"),
        ("https://93.184.216.34/#frag", False, "fragment"),
        ("https:///nohost", False, "no host"),
        ("https://93.184.216.34:99999/", False, "malformed"),
        ("https://" + "a" * 2050 + ".com/", False, "2048"),
    ],
)
def test_urls_that_are_not_plain_https_are_refused(url, allow_http, reason):
    with pytest.raises(WebhookUrlRefused, match=reason):
        ssrf.check_url(url, allow_http=allow_http)


def test_an_unresolvable_name_is_refused(monkeypatch):
    fake_dns(monkeypatch, {})
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        ssrf.check_url("https://nowhere.invalid/")


def test_the_sender_connects_to_the_checked_address_not_a_fresh_lookup(monkeypatch):
    receiver = Receiver().start()
    try:
        fake_dns(monkeypatch, {"hooks.test": ["127.0.0.1"]})
        target = ssrf.check_url(f"http://hooks.test:{receiver.port}/in", allow_http=True, allow_private=True)
        # Rebinding: the name now points elsewhere, but the checked address is the one connected to.
        fake_dns(monkeypatch, {"hooks.test": ["10.9.9.9"]})
        answer = sender.post(target, b"{}", {"webhook-id": "msg_1"}, connect_timeout=2, total_timeout=5)
    finally:
        receiver.stop()
    assert answer.status_code == 200
    assert receiver.received[0].headers["Host"] == f"hooks.test:{receiver.port}"


def test_a_redirect_is_never_followed_and_counts_as_a_failure():
    inside = Receiver().start()
    outside = Receiver(then=302).start()
    outside.extra_headers["Location"] = inside.url
    try:
        target = ssrf.check_url(outside.url, allow_http=True, allow_private=True)
        answer = sender.post(target, b"{}", {}, connect_timeout=2, total_timeout=5)
    finally:
        inside.stop()
        outside.stop()
    assert answer.status_code == 302 and not answer.is_delivered
    assert answer.location == inside.url
    assert inside.received == []


def test_a_receiver_that_does_not_answer_in_time_is_cut_off():
    receiver = Receiver().start()
    receiver.hold.set()
    try:
        target = ssrf.check_url(receiver.url, allow_http=True, allow_private=True)
        answer = sender.post(target, b"{}", {}, connect_timeout=1, total_timeout=1)
    finally:
        receiver.stop()
    assert answer.status_code is None and answer.error == "timed out"
    assert answer.seconds < 5


def fake_dns(monkeypatch, table: dict[str, list[str]]) -> None:
    """Answer getaddrinfo from table for its names (literal addresses still resolve as themselves)."""
    real = socket.getaddrinfo

    def lookup(host, port, *args, **kwargs):
        if host in table:
            return [
                (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in table[host]
            ]
        if host.replace(".", "").isdigit() or ":" in host:
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", lookup)
