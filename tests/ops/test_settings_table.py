"""The settings table is the one source: the code reads settings only through it, and the README is rendered from it."""

import ast
from pathlib import Path

from app import settings
from app.settings.markdown import BEGIN, END, render_markdown

ROOT = Path(__file__).resolve().parents[2]
# Where Pixline's processes live; app/settings/ is the one place that reads the environment.
SOURCES = [
    *sorted((ROOT / "app").rglob("*.py")),
    ROOT / "worker.py",
    ROOT / "config.py",
    *(ROOT / "docker").glob("*.py"),
]
# Environment reads of a setting's name outside app/settings/ that are not setting reads, each with why.
ALLOWED = {
    (
        "docker/healthcheck.py",
        "PORT",
    ): "the 30-second health probe stays a stdlib script; its role checked PORT at start",
    ("docker/healthcheck.py", "REDIS_URL"): "the same probe, for --worker",
    ("app/stack.py", "REDIS_URL"): "make run reads back the Redis URL it started and set for its children",
    ("app/stack.py", "DASHBOARD_USERNAME"): "make run reads back the value it set for its children",
}
# app/stack.py is reworked on another branch this round (banner, back-off); these reads move to settings.read() there.
PENDING = {
    ("app/stack.py", "PROMETHEUS_MULTIPROC_DIR"),
    ("app/stack.py", "DASHBOARD_PASSWORD"),
    ("app/stack.py", "WEB_PROCESSES"),
    ("app/stack.py", "LOG_FORMAT"),
    ("app/stack.py", "INSTANCE_PATH"),
    ("app/stack.py", "DASHBOARD_PORT"),
}
# Config keys the code reads that are Flask's, SQLAlchemy's or the tests' own, not Pixline settings.
NOT_SETTINGS = {
    "TESTING", "REDIS_CLIENT", "SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "MAX_CONTENT_LENGTH",
    "MAX_FORM_PARTS", "MAX_FORM_MEMORY_SIZE", "WTF_CSRF_ENABLED",
}  # fmt: skip


def is_environ(node: ast.AST) -> bool:
    """Whether node is os.environ (or a name for it: environ, env)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id in ("environ", "env")


def environment_reads(tree: ast.AST) -> set[str]:
    """Names read from the environment in a module: environ.get("X"), environ["X"], os.getenv("X"), "X" in environ."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            is_get = node.func.attr == "get" and is_environ(node.func.value)
            if is_get or node.func.attr == "getenv":
                names.add(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_environ(node.value):
            names.add(node.slice)
        elif isinstance(node, ast.Compare) and any(is_environ(each) for each in node.comparators):
            names.add(node.left)
    return {name.value for name in names if isinstance(name, ast.Constant) and isinstance(name.value, str)}


def config_reads(tree: ast.AST) -> set[str]:
    """Upper-case keys read from a config mapping: config["X"], config.get("X"), app.config["X"]."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            keys.update(arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant))
    return {key for key in keys if isinstance(key, str) and key.isupper() and len(key) > 3}


def test_no_module_reads_a_setting_from_the_environment_but_app_settings():
    found = set()
    for path in SOURCES:
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith("app/settings/"):
            names = environment_reads(ast.parse(path.read_text())) & set(settings.BY_NAME)
            found |= {(relative, name) for name in names}
    assert found - set(ALLOWED) - PENDING == set(), "read these through app.settings (settings.read() or app.config)"
    assert set(ALLOWED) | PENDING >= found


def test_the_scan_finds_each_form_of_environment_read():
    source = 'os.environ.get("PORT"); os.environ["HOST"]; os.getenv("WORKERS"); "LOG_LEVEL" in os.environ'
    assert environment_reads(ast.parse(source)) == {"PORT", "HOST", "WORKERS", "LOG_LEVEL"}


def test_every_config_key_the_code_reads_is_declared():
    keys = set()
    for path in SOURCES:
        if path.parent.name != "settings":
            keys |= config_reads(ast.parse(path.read_text()))
    environment_like = {key for key in keys if not key.startswith(("HTTP_", "RQ_", "SERVER_", "CONTENT_", "PATH_"))}
    assert environment_like - set(settings.BY_NAME) - NOT_SETTINGS == set()


def test_readme_configuration_tables_are_rendered_from_the_table():
    readme = (ROOT / "README.md").read_text()
    section = readme.partition(BEGIN)[2].partition(END)[0]
    assert section.strip() == render_markdown().strip(), "run: python -m app.settings --write README.md"


def test_every_setting_has_a_group_a_meaning_and_a_unique_name():
    assert len(settings.BY_NAME) == len(settings.TABLE)
    for setting in settings.TABLE:
        assert setting.group in settings.GROUPS and setting.description, setting.name
