"""Product photos for the demo catalogue, made at seed time from real photographs kept on disk.

Photo lookup needs a picture per product and colour, but nothing may be downloaded here, and no package
may be installed only for its sample data. So 17 photographs from scikit-image's and matplotlib's sample
data ship in `demo_photos/`, byte for byte as those packages have them (its README gives each file's
origin and licence), and scikit-learn's two sample photos are read where the installed scikit-learn keeps
them (sentence-transformers needs scikit-learn anyway; the file is found with `importlib.util.find_spec`,
so scikit-learn is never imported). Each demo product gets a region of one photo, recoloured per colour
variant. Every product photo depends on those exact bytes, so FINGERPRINTS records each file's SHA-256
and what it decodes to, and the tests check them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS_DIR = Path(__file__).with_name("demo_photos")
JPEG_QUALITY = 90
REGIONS_PER_PHOTO = 3
# A region is cropped at 85-100 % of its square, offset inside it, so photos never look like a grid.
MIN_REGION_ZOOM = 0.85
# Recolouring: contrast bounds of the luminance map, and the width (in levels) of its soft roll-off.
MIN_CONTRAST, MAX_CONTRAST = 0.6, 1.5
KNEE = 56.0


@dataclass(frozen=True)
class PhotoSource:
    """One base photograph: its file, what it shows, and under what terms."""

    name: str
    file: str  # in PHOTOS_DIR, or, with `package`, inside that package's installed directory
    subject: str
    licence: str
    package: str | None = None
    texture: bool = False  # its regions look alike, so it is shared by products last


def _sklearn(name: str, subject: str, licence: str) -> PhotoSource:
    return PhotoSource(name, f"datasets/images/{name}.jpg", subject, licence, package="sklearn")


# Licence notes are what each package's documentation says (loader docstrings, scikit-learn's README).
SOURCES: list[PhotoSource] = [
    # Scenes with distinct regions first: the first products each get one of these.
    PhotoSource("astronaut", "astronaut.png", "astronaut Eileen Collins", "NASA; public domain"),
    PhotoSource(
        "coffee", "coffee.png", "espresso cup on a saucer", "CC0, Rachel Michetti (Pikolo Espresso Bar)"
    ),
    PhotoSource("chelsea", "chelsea.png", "Chelsea the cat", "CC0, Stefan van der Walt"),
    PhotoSource(
        "rocket", "rocket.jpg", "Falcon 9 on the launch pad", "SpaceX; released into the public domain"
    ),
    PhotoSource(
        "motorcycle",
        "motorcycle_left.png",
        "red motorcycle in a workshop",
        "Middlebury 2014 stereo dataset (Scharstein et al., GCPR 2014), no licence stated; cite it",
    ),
    _sklearn("china", "Summer Palace pagoda", "CC BY 2.0, danielbuechele on Flickr"),
    _sklearn("flower", "orange dahlia", "CC BY 2.0, vultilion on Flickr"),
    PhotoSource(
        "grace_hopper",
        "grace_hopper.jpg",
        "Rear Admiral Grace Hopper",
        "US Navy official portrait; public domain (work of the US federal government)",
    ),
    PhotoSource("camera", "camera.png", "cameraman on a lawn (grey)", "CC0, Lav Varshney"),
    PhotoSource(
        "coins", "coins.png", "Greek coins from Pompeii (grey)", "Brooklyn Museum; no known restrictions"
    ),
    PhotoSource(
        "retina", "retina.jpg", "fundus photograph of an eye", "CC0, Mikael Häggström (Wikimedia Commons)"
    ),
    # Textures and sparse scenes: any two regions look alike, so they are shared only when scenes are full.
    PhotoSource(
        "hubble_deep_field",
        "hubble_deep_field.jpg",
        "Hubble eXtreme Deep Field",
        "NASA; may be freely used",
        texture=True,
    ),
    PhotoSource("brick", "brick.png", "brick wall (grey)", "CC0, CC0Textures", texture=True),
    PhotoSource("grass", "grass.png", "grass (grey)", "CC0, linolafett on DeviantArt", texture=True),
    PhotoSource("gravel", "gravel.png", "gravel (grey)", "CC0, CC0Textures", texture=True),
    PhotoSource("moon", "moon.png", "surface of the moon (grey)", "no licence stated", texture=True),
    PhotoSource(
        "clock",
        "clock_motion.png",
        "motion-blurred clock (grey)",
        "public domain, Stefan van der Walt",
        texture=True,
    ),
    PhotoSource("page", "page.png", "scanned printed page (grey)", "no licence stated", texture=True),
    PhotoSource(
        "text", "text.png", "handwritten text (grey)", "public domain (Wikipedia Corner.png)", texture=True
    ),
]
# Each file's (width, height) and Pillow mode as decoded, and the SHA-256 of its bytes.
FINGERPRINTS: dict[str, tuple[tuple[int, int], str, str]] = {
    "astronaut": ((512, 512), "RGB", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
    "coffee": ((600, 400), "RGB", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
    "chelsea": ((451, 300), "RGB", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
    "rocket": ((640, 427), "RGB", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
    "motorcycle": ((741, 500), "RGB", "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"),
    "china": ((640, 427), "RGB", "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"),
    "flower": ((640, 427), "RGB", "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"),
    "grace_hopper": ((512, 600), "RGB", "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
    "camera": ((512, 512), "L", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),
    "coins": ((384, 303), "L", "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba"),
    "retina": ((1411, 1411), "RGB", "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6"),
    "hubble_deep_field": (
        (1000, 872),
        "RGB",
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
    ),
    "brick": ((512, 512), "L", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
    "grass": ((512, 512), "L", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89"),
    "gravel": ((512, 512), "L", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12"),
    "moon": ((512, 512), "L", "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577"),
    "clock": ((400, 300), "L", "f029226b28b642e80113d86622e9b215ee067a0966feaf5e60604a1e05733955"),
    "page": ((384, 191), "L", "341a6f0a61557662b02734a9b6e56ec33a915b2c41886b97509dedf2a43b47a3"),
    "text": ((448, 172), "L", "bd84aa3a6e3c9887850d45d606c96b2e59433fbef50338570b63c319e668e6d1"),
}
_BY_NAME = {source.name: source for source in SOURCES}

# Catalogue colour names (bot/storage/seed/catalog.yml) as sRGB; a variant takes this hue and roughly this
# lightness. Patterned colours (tortoiseshell) are approximated by their dominant tone.
COLORS: dict[str, tuple[int, int, int]] = {
    "white": (236, 235, 232),
    "black": (24, 24, 26),
    "grey": (150, 150, 152),
    "charcoal": (62, 64, 68),
    "navy": (31, 42, 84),
    "light blue": (160, 192, 226),
    "denim blue": (72, 98, 142),
    "sage": (156, 172, 140),
    "olive": (98, 104, 48),
    "cream": (240, 230, 204),
    "sand": (204, 184, 146),
    "camel": (193, 154, 107),
    "tan": (210, 168, 118),
    "brown": (112, 72, 42),
    "chocolate": (78, 48, 30),
    "tortoiseshell": (104, 62, 30),
    "burgundy": (112, 26, 46),
    "blush": (232, 182, 176),
    "dusty pink": (206, 152, 160),
    "rust": (172, 76, 40),
    "terracotta": (200, 106, 76),
    "mustard": (216, 170, 48),
}


def _package_dir(package: str) -> Path:
    """Installed directory of a package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"demo product photos need the {package!r} package installed")
    return Path(next(iter(spec.submodule_search_locations)))


def source_file(name: str) -> Path:
    """Path of a base photo's file: in PHOTOS_DIR, or inside the installed package that ships it."""
    source = _BY_NAME[name]
    if source.package is None:
        path = PHOTOS_DIR / source.file
        hint = "it ships with this code; is the checkout or the installed package incomplete?"
    else:
        path = _package_dir(source.package) / source.file
        hint = f"is the {source.package!r} package version too new or old?"
    if not path.is_file():
        raise FileNotFoundError(f"demo photo {name!r} has no file at {path}; {hint}")
    return path


@cache
def load_base(name: str) -> Image.Image:
    """A base photo as RGB (grey photos become grey RGB), decoded once per process: do not modify it."""
    with Image.open(source_file(name)) as image:
        return image.convert("RGB")


def _digest(base_name: str, sku: str) -> bytes:
    """Stable bytes for a product on a base photo (`hash()` changes between processes)."""
    return hashlib.sha256(f"{base_name}\x00{sku}".encode()).digest()


def region_of(base_name: str, sku: str) -> int:
    """Which of the photo's disjoint regions shows this product."""
    return _digest(base_name, sku)[0] % REGIONS_PER_PHOTO


def _squares(width: int, height: int) -> tuple[int, list[tuple[int, int]]]:
    """Side and top-left corners of the candidate squares for a photo's regions.

    The side is the largest that still fits three disjoint squares, as an L (two in the corners of one
    long edge, one centred on the other) or as a row along the long axis: wide strips of text do better
    as a row. Corners step by a third of the side, plus the positions those two layouts need.
    """
    long, short = max(width, height), min(width, height)
    side = max(short // 2, min(short, long // 3))
    step = max(1, side // 3)

    def positions(length: int) -> list[int]:
        return sorted({*range(0, length - side + 1, step), length - side, (length - side) // 2})

    return side, [(x, y) for x in positions(width) for y in positions(height)]


@cache
def regions(base_name: str) -> tuple[tuple[int, int, int, int], ...]:
    """Three disjoint squares (left, top, right, bottom) of a base photo, each as detailed as possible.

    A product cut from blurred background or empty sky would be a featureless photo that every query
    resembles, so among all triples of disjoint candidate squares this takes the one whose least detailed
    square is most detailed (detail: mean gradient magnitude), breaking ties by total detail.
    """
    base = load_base(base_name)
    side, corners = _squares(*base.size)
    factor = max(1, max(base.size) // 256)
    grey = np.asarray(base.convert("L").reduce(factor), dtype=np.float64)
    gradient = np.zeros_like(grey)
    gradient[:, 1:] += np.abs(np.diff(grey, axis=1))
    gradient[1:, :] += np.abs(np.diff(grey, axis=0))
    total = np.pad(gradient.cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def detail(corner: tuple[int, int]) -> float:
        x0, y0 = corner[0] // factor, corner[1] // factor
        x1, y1 = x0 + max(1, side // factor), y0 + max(1, side // factor)
        return float(total[y1, x1] - total[y0, x1] - total[y1, x0] + total[y0, x0])

    def apart(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return abs(a[0] - b[0]) >= side or abs(a[1] - b[1]) >= side

    ranked = sorted(corners, key=lambda corner: (-detail(corner), corner))
    # Walking down the ranking, the first third square that completes a disjoint triple fixes the
    # best possible minimum; among triples ending there, keep the most detailed pair.
    for k, third in enumerate(ranked):
        pairs = [
            (a, b)
            for i, a in enumerate(ranked[:k])
            for b in ranked[i + 1 : k]
            if apart(a, b) and apart(a, third) and apart(b, third)
        ]
        if pairs:
            a, b = max(pairs, key=lambda pair: detail(pair[0]) + detail(pair[1]))
            return tuple((x, y, x + side, y + side) for x, y in sorted((a, b, third)))
    raise AssertionError(f"no three disjoint squares in {base.size}")  # _squares always offers an L or a row


def assign(skus: list[str]) -> dict[str, str]:
    """Map each SKU to a base photo name: distinct photos first, then disjoint regions of shared ones.

    In the given order, the first `len(SOURCES)` SKUs get one photo each, in `SOURCES` order. Every product
    shows one of three disjoint square regions of its photo, chosen by a hash of (photo, SKU) so that
    `product_photo` can rebuild it from the SKU alone. A later SKU goes to a photo whose region for that
    SKU is still free, so products sharing a photo never show the same part of it: to the scene with the
    fewest products, or, when every scene's region for it is taken, to a texture (whose regions look
    alike, so textures are shared last). Only when no photo at all has a free region for a SKU (beyond
    three products per photo) do two products share a region, and then they differ only by its zoom and
    offset. Appending SKUs never changes the photos of earlier ones.
    """
    used: dict[str, set[int]] = {source.name: set() for source in SOURCES}
    rank = {source.name: i for i, source in enumerate(SOURCES)}
    mapping: dict[str, str] = {}
    for index, sku in enumerate(dict.fromkeys(skus)):
        if index < len(SOURCES):
            name = SOURCES[index].name
        else:
            free = [s for s in SOURCES if region_of(s.name, sku) not in used[s.name]] or SOURCES
            name = min(
                free, key=lambda s: (s.texture and bool(used[s.name]), len(used[s.name]), rank[s.name])
            ).name
        used[name].add(region_of(name, sku))
        mapping[sku] = name
    return mapping


def _crop_box(base_name: str, sku: str) -> tuple[int, int, int, int]:
    """The product's square inside its region: zoomed to 85-100 % and offset, both from the hash."""
    digest = _digest(base_name, sku)
    left, top, right, _ = regions(base_name)[digest[0] % REGIONS_PER_PHOTO]
    side = right - left
    crop = round(side * (MIN_REGION_ZOOM + (1 - MIN_REGION_ZOOM) * digest[1] / 255))
    x = left + (side - crop) * digest[2] // 255
    y = top + (side - crop) * digest[3] // 255
    return x, y, x + crop, y + crop


def _luma_table(luma: np.ndarray, level: float) -> np.ndarray:
    """Output luminance for each input level: median onto `level`, linear, tails rolled off smoothly."""
    cdf = np.cumsum(np.bincount(luma.ravel(), minlength=256)) / luma.size
    low, median, high = (int(value) for value in np.searchsorted(cdf, (0.05, 0.5, 0.95)))
    fits = min(level / max(median - low, 1), (255 - level) / max(high - median, 1))
    linear = level + min(max(fits, MIN_CONTRAST), MAX_CONTRAST) * (np.arange(256) - median)
    # Past KNEE levels from either end, tanh bends the line so it approaches 0 or 255 without reaching it.
    top = 255 - KNEE + KNEE * np.tanh((linear - 255 + KNEE) / KNEE)
    bottom = KNEE - KNEE * np.tanh((KNEE - linear) / KNEE)
    return np.where(linear > 255 - KNEE, top, np.where(linear < KNEE, bottom, linear))


def recolor(image: Image.Image, color: str) -> Image.Image:
    """The same picture in another colour: its luminance structure kept, its hue and lightness the colour's.

    Works in YCbCr. Luminance is mapped linearly so that the median lands on the colour's lightness, with
    the contrast that keeps the middle 90 % of pixels in range (at least 0.6, at most 1.5 times the
    photo's); the tails roll off smoothly instead of clipping, so the mapping stays monotonic and edges
    survive even in black or white. Chroma becomes the colour's, scaled towards black and white as the
    luminance approaches them (which keeps it inside the RGB gamut), plus up to a fifth of the photo's own
    chroma so it still looks photographed; neutral colours (black, white, grey) keep a twentieth, so
    luminance alone sets them. Statistics come from the integer histogram, so no float summation order
    can change the output bytes.
    """
    if color not in COLORS:
        raise ValueError(f"unknown catalogue colour {color!r}; add it to COLORS in {__name__}")
    target = np.asarray(Image.new("RGB", (1, 1), COLORS[color]).convert("YCbCr"), dtype=np.float64)[0, 0]
    ycc = np.asarray(image.convert("YCbCr"))
    luma = ycc[..., 0]
    table = _luma_table(luma, float(target[0]))
    toward_black = table / max(target[0], 1.0)
    toward_white = (255 - table) / max(255 - target[0], 1.0)
    scale = np.minimum(1.0, np.minimum(toward_black, toward_white))[luma]
    own_chroma = 0.05 + 0.15 * min(1.0, float(np.hypot(*(target[1:] - 128))) / 30)
    out = np.empty(ycc.shape, dtype=np.float32)
    out[..., 0] = table[luma]
    for channel in (1, 2):
        own = ycc[..., channel].astype(np.float32) - 128
        out[..., channel] = 128 + (target[channel] - 128) * scale + own_chroma * own
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "YCbCr").convert("RGB")


def product_photo(base_name: str, sku: str, color: str | None, size: int = 512) -> Image.Image:
    """The product's square RGB photo, `size` px; recoloured to `color` when one is given.

    The framing (region, zoom, offset) depends only on the photo and the SKU, so two products sharing a
    photo differ, and every colour variant of a product shows exactly the same framing.
    """
    base = load_base(base_name)
    photo = base.crop(_crop_box(base_name, sku)).resize((size, size), Image.Resampling.LANCZOS)
    return recolor(photo, color) if color is not None else photo


def _slug(color: str) -> str:
    return "-".join(color.lower().split())


def write_catalog_images(products: list[dict], out_dir: Path) -> dict[str, list[Path]]:
    """Write `<sku>-<colour>.jpg` (spaces in colour names become hyphens) for every product and colour.

    Returns SKU -> paths in catalogue colour order, so the first path is the product's main photo. A
    product without colours gets one photo in the base photo's own colours, `<sku>.jpg`. The JPEG bytes
    depend only on the inputs and the library versions (no timestamps or metadata).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    bases = assign([product["sku"] for product in products])
    written: dict[str, list[Path]] = {}
    for product in products:
        sku = product["sku"]
        paths = []
        for color in product.get("colors") or [None]:
            path = out_dir / (f"{sku}-{_slug(color)}.jpg" if color else f"{sku}.jpg")
            buffer = io.BytesIO()
            product_photo(bases[sku], sku, color).save(buffer, "JPEG", quality=JPEG_QUALITY)
            path.write_bytes(buffer.getvalue())
            paths.append(path)
        written[sku] = paths
    return written
