"""The production compose file's reverse proxy: nginx config from docker/nginx/, checked as written and run for real
(Debian's nginx on loopback in front of gunicorn) when nginx is installed."""

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from app import create_app
from app.stack import free_port, stop_all
from tests.isolation.stream_flood import StreamFlood, event_stream, long_poll
from tests.support.images import encoded
from tests.support.polling import wait_until
from tests.support.web import WebServer, read_until_closed

ROOT = Path(__file__).resolve().parents[2]
NGINX = ROOT / "docker" / "nginx"
TEMPLATE = NGINX / "templates" / "pixline.conf.template"
LIMITS = NGINX / "pixline-limits.envsh"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX_BINARY = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


PROXY_WAITING = 3  # MAX_WAITING_PER_ADDRESS of the nginx under test


def proxy_settings(**env: str) -> dict[str, str]:
    """The environment the nginx image renders the template with: compose's values, then pixline-limits.envsh."""
    script = f'. "{LIMITS}" && env -0'
    done = subprocess.run(
        ["sh", "-c", script], env={"PATH": os.environ["PATH"], **env}, capture_output=True, check=True
    )
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)


def render(settings: dict[str, str]) -> str:
    """envsubst as the nginx image runs it: ${NAME} of a defined variable is replaced, anything else is left."""
    return re.sub(r"\$\{(\w+)\}", lambda match: settings.get(match.group(1), match.group(0)), TEMPLATE.read_text())


def test_compose_puts_the_proxy_in_front_of_web_with_the_repo_config():
    proxy, web = COMPOSE["services"]["proxy"], COMPOSE["services"]["web"]
    assert "ports" not in web, "web must be reached through the proxy only"
    assert any(port.endswith(":8080") for port in proxy["ports"])
    mounts = {volume.split(":")[1]: ROOT / volume.split(":")[0] for volume in proxy["volumes"]}
    assert mounts["/etc/nginx/templates"] == NGINX / "templates" and TEMPLATE.is_file()
    envsh = next(path for target, path in mounts.items() if target.startswith("/docker-entrypoint.d/"))
    assert envsh.resolve() == LIMITS.resolve() and os.access(LIMITS, os.X_OK), "the image sources only +x .envsh"
    assert proxy["environment"]["PIXLINE_UPSTREAM"] == "web:8000"
    for name in ("MAX_UPLOAD_BYTES", "CLIENT_TIMEOUT", "MAX_WAITING_PER_ADDRESS"):
        assert proxy["environment"][name] == COMPOSE["x-pixline"]["environment"][name], f"{name} differs from web's"


@pytest.mark.parametrize("max_upload", ["26214400", "1000"])
def test_the_body_limit_is_the_apps_and_every_template_variable_is_defined(max_upload):
    settings = proxy_settings(MAX_UPLOAD_BYTES=max_upload, CLIENT_TIMEOUT="7")
    config = render(settings)
    assert re.findall(r"\$\{\w+\}", config) == []
    app = create_app({"TESTING": True, "MAX_UPLOAD_BYTES": int(max_upload)})
    assert f"client_max_body_size {app.config['MAX_CONTENT_LENGTH']};" in config
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert f"{directive} 7s;" in config


def test_waiting_requests_are_limited_per_address_and_tokens_are_kept_out_of_access_lines():
    config = render(proxy_settings(MAX_WAITING_PER_ADDRESS="9"))
    assert "limit_conn pixline_waiting 9;" in config and "limit_conn_status 429;" in config
    assert re.search(r"access_log \S+ pixline;", config)


def test_only_the_event_stream_is_unbuffered():
    config = render(proxy_settings())
    events = config[config.index("location = /api/events") :]
    assert "proxy_buffering off;" in events[: events.index("}")]
    assert config.count("proxy_buffering off;") == 1 and "proxy_request_buffering on;" in config


# --- the real nginx, on loopback ------------------------------------------------------------------------------


@pytest.fixture
def proxied(make_stack, tmp_path):
    """gunicorn (web_command) behind Debian's nginx running the rendered template; (proxy URL, web, stack)."""
    if NGINX_BINARY is None:
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    # As compose runs it: keys required, the app trusting the one proxy in front for client addresses.
    stack = make_stack(MAX_UPLOAD_BYTES="200000", TRUSTED_PROXIES="1", EVENT_STREAM_MAX_SECONDS="5")
    web = WebServer(stack.env, tmp_path / "web.log")
    port = free_port()
    prefix = tmp_path / "nginx"
    settings = proxy_settings(MAX_UPLOAD_BYTES="200000", CLIENT_TIMEOUT="1", PIXLINE_UPSTREAM=f"127.0.0.1:{web.port}",
                              PIXLINE_PROXY_PORT=f"127.0.0.1:{port}", MAX_WAITING_PER_ADDRESS=str(PROXY_WAITING),
                              PIXLINE_ACCESS_LOG=str(prefix / "logs" / "access.log"))  # fmt: skip
    (prefix / "logs").mkdir(parents=True)
    prefix.chmod(0o777)  # nginx's workers run as nobody when started by root: they write request bodies here
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log info;\n"
        "events { worker_connections 256; }\n"
        f"http {{\naccess_log {prefix}/logs/access.log;\nclient_body_temp_path {prefix}/body;\n"
        f"proxy_temp_path {prefix}/proxy;\n{render(settings)}\n}}\n"
    )
    command = [NGINX_BINARY, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen(command, stderr=subprocess.STDOUT, stdout=(prefix / "logs" / "out.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/healthz"), 20, interval=0.1, what="nginx to proxy /healthz")
        yield url, web, stack
    finally:
        stop_all([nginx])
        web.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def keyed(stack) -> dict[str, str]:
    """The Authorization header of the stack's key."""
    return {"Authorization": f"Bearer {stack.api_key}"}


def test_an_upload_and_a_long_poll_pass_through_the_proxy(proxied):
    url, _, stack = proxied
    answer = requests.post(f"{url}/api/images", files={"file": ("a.png", encoded(fmt="PNG"))}, headers=keyed(stack),
                           timeout=30)  # fmt: skip
    assert answer.status_code == 202, answer.text
    image = requests.get(f"{url}/api/images/{answer.json()['id']}?wait=1&status=queued", headers=keyed(stack),
                         timeout=30)  # fmt: skip
    assert image.status_code == 200 and image.json()["status"] == "queued"


def test_a_body_over_the_limit_is_refused_by_nginx_as_json_and_never_reaches_the_app(proxied):
    url, web, stack = proxied
    headers = {"Content-Type": "image/png", **keyed(stack)}
    answer = requests.post(f"{url}/api/images", data=b"x" * 400_000, headers=headers, timeout=30)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert "POST /api/images" not in web.log()
    assert stack.client.get("/api/images").get_json()["items"] == []


def test_a_stalled_body_is_dropped_by_nginx_before_the_app_sees_it(proxied):
    url, web, stack = proxied
    client = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30)
    head = f"POST /api/images HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {stack.api_key}\r\n"
    head += "Content-Type: multipart/form-data; boundary=b\r\n"
    client.sendall(f"{head}Content-Length: 100000\r\n\r\n--b\r\n".encode())
    response = read_until_closed(client, 30)
    assert response == b"" or response.startswith(b"HTTP/1.1 408"), response[:200]
    assert "POST /api/images" not in web.log()
    assert stack.client.get("/api/images").get_json()["items"] == []


def test_waiting_requests_past_the_address_limit_are_refused_by_nginx_as_json(proxied):
    url, _, stack = proxied
    image_id = stack.upload(encoded(fmt="PNG")).get_json()["id"]
    kinds = [(stack.api_key, event_stream(image_id)), (stack.api_key, long_poll(image_id, "queued", wait=20))]
    flood = StreamFlood(url, kinds, count=PROXY_WAITING + 2, source="127.0.0.1", answer_seconds=3).start()
    try:
        assert flood.held_count() == PROXY_WAITING and flood.tally()["429 rate_limited"] == 2, flood.tally()
        assert flood.refusals()[0].headers["retry-after"] == "5"
        # Other requests of the same address are not counted.
        assert requests.get(f"{url}/api/images", headers=keyed(stack), timeout=10).status_code == 200
    finally:
        flood.stop()


def test_a_stream_token_is_kept_out_of_nginx_and_gunicorn_access_lines(proxied, tmp_path):
    url, web, stack = proxied
    token = requests.post(f"{url}/api/events/token", headers=keyed(stack), timeout=10).json()["token"]
    with requests.get(f"{url}/api/events?ids=none&access_token={token}", timeout=30) as stream:
        assert stream.status_code == 200  # read to its end (EVENT_STREAM_MAX_SECONDS=5): both servers log it
    access = tmp_path / "nginx" / "logs" / "access.log"
    wait_until(lambda: "access_token=[redacted]" in web.log(), 20, what="gunicorn's access line of the stream")
    assert "/api/events?ids=none&access_token=[redacted] HTTP/1.1" in access.read_text()
    assert token not in access.read_text() and token not in web.log()
