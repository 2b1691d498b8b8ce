"""Readers beyond Pillow's own, loaded the first time an upload needs one, so a missing one refuses only its format."""

from functools import cache
from importlib import import_module

from PIL import features

from app.imaging.errors import UnsupportedType
from app.imaging.formats import InputFormat

# Plug-in module -> its function that registers the reader with Pillow, and the options it is called with.
# Thumbnails, depth maps and other auxiliary pictures are never rendered, so they are not even read.
REGISTRATIONS = {
    "pillow_heif": ("register_heif_opener", {"thumbnails": False, "depth_images": False, "aux_images": False}),
}


def ensure_reader(kind: InputFormat) -> None:
    """Make sure Pillow can open this format, or refuse the upload with a message that says why it cannot."""
    if kind.plugin is not None and not _register(kind.plugin):
        package = kind.plugin.replace("_", "-")
        raise UnsupportedType(f"{kind.name} images cannot be read on this server: {package} is not installed.")
    if kind.feature is not None and not features.check_module(kind.feature):
        raise UnsupportedType(f"{kind.name} images cannot be read on this server: Pillow was built without them.")


def preload() -> None:
    """Import every plug-in now (a worker can, before forking), so no job pays for it."""
    for plugin in REGISTRATIONS:
        _register(plugin)


@cache
def _register(plugin: str) -> bool:
    """Import a plug-in and register its reader with Pillow, once; False if it is not installed."""
    try:
        module = import_module(plugin)
    except ImportError:
        return False
    function, options = REGISTRATIONS[plugin]
    getattr(module, function)(**options)
    return True
