"""Cover crops: the window of the box's aspect ratio cut from a picture, centred or where its detail is.

Smart gravity scores each window position by edge energy (the absolute differences between neighbouring pixels, as
libvips' `interesting` and easy-thumbnails' smart crop do) on a copy at most DETAIL_EDGE pixels long, so it costs
the same for a 50 MP photo as for a thumbnail. Among equally detailed positions it takes the middle of the run
nearest the centre (the centre itself when the run holds it): a subject smaller than the window ends up in the
middle of it, a centred one gives the centre crop.
"""

from PIL import Image, ImageChops

CENTER, SMART = "center", "smart"
GRAVITIES = (CENTER, SMART)
DETAIL_EDGE = 128
# Window scores this close to the best count as a tie (they differ only by float rounding).
TIE = 1e-9


def cover_geometry(width: int, height: int, box: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(window, output) sizes: the largest window of the box's aspect ratio, and the box, or the window when smaller.

    A cover crop is never upscaled: a source smaller than the box gives its largest crop of the box's aspect ratio.
    """
    box_width, box_height = box
    if width * box_height >= height * box_width:
        window = (max(1, min(width, round(height * box_width / box_height))), height)
    else:
        window = (width, max(1, min(height, round(width * box_height / box_width))))
    is_large_enough = window[0] >= box_width and window[1] >= box_height
    return window, box if is_large_enough else window


def window_origin(
    picture: Image.Image, full: tuple[int, int], window: tuple[int, int], gravity: str
) -> tuple[int, int]:
    """Top-left corner, in full-size coordinates, of the window to cut (picture: the whole image at any scale)."""
    slack_x, slack_y = full[0] - window[0], full[1] - window[1]
    if gravity != SMART or (slack_x <= 0 and slack_y <= 0):
        return slack_x // 2, slack_y // 2
    horizontal = slack_x > 0
    profile = _detail_profile(picture, horizontal)
    length = full[0] if horizontal else full[1]
    span = max(1, min(len(profile), round((window[0] if horizontal else window[1]) * len(profile) / length)))
    offset = _best_offset(profile, span)
    slack = slack_x if horizontal else slack_y
    start = slack // 2 if offset is None else min(slack, round(offset * length / len(profile)))
    return (start, slack_y // 2) if horizontal else (slack_x // 2, start)


def _detail_profile(picture: Image.Image, horizontal: bool) -> list[float]:
    """Mean edge energy of each column (horizontal) or row of a small grey copy of the picture."""
    scale = DETAIL_EDGE / max(picture.size)
    size = (max(2, round(picture.width * scale)), max(2, round(picture.height * scale))) if scale < 1 else picture.size
    small = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0) if size != picture.size else picture
    grey = (small.convert("RGB") if small.mode == "RGBa" else small).convert("L")
    width, height = grey.size
    inner = (0, 0, width - 1, height - 1)
    across = ImageChops.difference(grey.crop((1, 0, width, height)), grey.crop((0, 0, width - 1, height)))
    down = ImageChops.difference(grey.crop((0, 1, width, height)), grey.crop((0, 0, width, height - 1)))
    energy = ImageChops.add(across.crop(inner), down.crop(inner)).convert("F")
    line = energy.resize((width - 1, 1) if horizontal else (1, height - 1), Image.Resampling.BOX)
    return list(line.get_flattened_data())


def _best_offset(profile: list[float], span: int) -> float | None:
    """The start of the span-long window with the most energy: the middle of the tied run nearest the centre.

    None when that run holds the centre itself: the centre crop, exactly (not off by the small copy's rounding).
    """
    sums = [sum(profile[:span])]
    for start in range(1, len(profile) - span + 1):
        sums.append(sums[-1] + profile[start + span - 1] - profile[start - 1])
    best = max(sums)
    tolerance = TIE * max(1.0, best)
    runs, run = [], []
    for start, total in enumerate(sums):
        if best - total <= tolerance:
            run.append(start)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    centre = (len(sums) - 1) / 2
    nearest = min(runs, key=lambda found: min(abs(start - centre) for start in found))
    if nearest[0] <= centre <= nearest[-1]:
        return None
    return (nearest[0] + nearest[-1]) / 2
