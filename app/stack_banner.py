"""`make run`'s banner: printed once web answers, it says where everything is and what the stack runs on."""

from pathlib import Path
from urllib.parse import urlsplit

from app import settings
from app.supervisor import say
from app.web import page_signin

ROOT = Path(__file__).resolve().parent.parent


def announce(host: str, port: int, workers: int, api_key: str, key_path: Path) -> None:
    """Print where everything is; the API key itself only on a terminal (a JSON line is a log line: keys stay out)."""
    plural = "worker" if workers == 1 else "workers"
    values = settings.read()
    is_json = values["LOG_FORMAT"] == "json"
    signin = page_signin.banner_lines(f"http://{host}:{port}", key_path.parent, is_json)
    key_path = shown_path(key_path)
    rows = banner_rows(f"http://{host}:{port}", f"key in {key_path}{'' if is_json else ': ' + api_key}")
    lines = [
        f"Pixline is running ({workers} {plural}, Redis at {without_password(values['REDIS_URL'])}):",
        *(f"  {label:<12} {value}" for label, value in rows),
        *signin,
        f'Try: curl -H "Authorization: Bearer $(cat {key_path})" http://{host}:{port}/api/images',
        "Press Ctrl-C to stop.",
    ]
    if is_json:
        say(" ".join(line.strip() for line in lines))
    else:
        print("\n" + "\n".join(lines) + "\n", flush=True)


def banner_rows(base: str, key: str) -> list[tuple[str, str]]:
    """The banner's table: what is where (one row per thing a user reaches or should know about)."""
    values = settings.read()
    credentials = f"user {values['DASHBOARD_USERNAME']}, password {values['DASHBOARD_PASSWORD']}"
    return [
        ("upload page", f"{base}/"),
        ("API", f"{base}/api/images  ({key})"),
        ("dashboard", f"{base}/rq  ({credentials})"),
        ("storage", storage_description()),
        ("database", database_description()),
    ]


def storage_description() -> str:
    """Where files go: `local (instance/media)`, `s3 (bucket b at endpoint)`, or a plug-in's name."""
    values = settings.read()
    backend = values["STORAGE_BACKEND"]
    if backend == "local":
        instance = Path(values["INSTANCE_PATH"] or ROOT / "instance")
        return f"local ({shown_path(Path(values['STORAGE_ROOT'] or instance / 'media'))})"
    if backend == "s3":
        endpoint = values["S3_ENDPOINT_URL"] or "AWS S3"
        return f"s3 (bucket {values['S3_BUCKET']} at {without_password(endpoint)})"
    return backend


def database_description() -> str:
    """The database URL, its password hidden; a SQLite file is shown relative to this folder when it is inside."""
    values = settings.read()
    instance = Path(values["INSTANCE_PATH"] or ROOT / "instance")
    url = values["DATABASE_URL"] or f"sqlite:///{instance / 'pixline.db'}"
    if url.startswith("sqlite:///"):
        return f"sqlite:///{shown_path(Path(url.removeprefix('sqlite:///')))}"
    return without_password(url)


def without_password(url: str) -> str:
    """The URL with any password replaced by ***: the banner is on screens and in logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    credentials, _, place = parts.netloc.rpartition("@")
    user = credentials.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{place}").geturl()


def shown_path(path: Path) -> Path:
    """A path as a user here would type it: relative to the current folder when it is inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)
