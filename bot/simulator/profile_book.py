"""What the fake platforms know of their customers: names, usernames, pictures, consent (profiles.py).

Customers nobody described get a made-up profile, stable for their id; the seeded demo customers
(bot/storage/seed/shop.yml, by their simulator ids) get their own names, so `make run` shows them.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw

DEMO = {"amy": ("Amy", "Clarke"), "jordan": ("Jordan", "Patel"), "sam": ("Sam", "O'Neill"),
        "mia": ("Mia", "Rossi"), "leo": ("Leo", "Martin")}  # fmt: skip
FIRST = ("Alex", "Noor", "Priya", "Tom", "Chloe", "Ravi", "Hana", "Oscar", "Zoe", "Ben", "Ines", "Kofi")
LAST = ("Walsh", "Khan", "Silva", "Evans", "Novak", "Okafor", "Berg", "Moreau", "Ito", "Reid")


@dataclass(frozen=True)
class SimProfile:
    """One customer as their platform knows them."""

    first_name: str
    last_name: str
    username: str
    picture: bool = True
    consent: bool = True  # False: never messaged, or blocked the business

    @property
    def name(self) -> str:
        """First and last name, as Graph's `name` field gives it."""
        return f"{self.first_name} {self.last_name}".strip()


def made_up(user_id: str) -> SimProfile:
    """A stable profile for a customer nobody described: the demo customers', else from the id's hash."""
    key = user_id.removeprefix("sim-").removesuffix("-ig")
    if key in DEMO:
        first, last = DEMO[key]
    else:
        digest = hashlib.sha256(user_id.encode()).digest()
        first, last = FIRST[digest[0] % len(FIRST)], LAST[digest[1] % len(LAST)]
    return SimProfile(first, last, f"{first}.{last}".lower().replace("'", ""))


class ProfileBook:
    """The profiles set through `POST /_sim/profile`, and the pictures drawn so far."""

    def __init__(self) -> None:
        self._set: dict[tuple[str, str], SimProfile] = {}
        self._pictures: dict[tuple[str, str], bytes] = {}

    def set(self, platform: str, user_id: str, profile: SimProfile) -> None:
        """Describe a customer (replaces an earlier description)."""
        self._set[(platform, user_id)] = profile
        self._pictures.pop((platform, user_id), None)

    def get(self, platform: str, user_id: str) -> SimProfile:
        """The customer's profile: as set, or made up."""
        return self._set.get((platform, user_id)) or made_up(user_id)

    def picture(self, platform: str, user_id: str) -> bytes:
        """A PNG avatar: the initials on a colour of the customer's own."""
        key = (platform, user_id)
        if key not in self._pictures:
            profile = self.get(platform, user_id)
            hue = zlib.crc32(user_id.encode()) % 360
            image = Image.new("RGB", (96, 96), f"hsl({hue}, 55%, 45%)")
            initials = (profile.first_name[:1] + profile.last_name[:1]).upper()
            ImageDraw.Draw(image).text((48, 48), initials, fill="white", anchor="mm", font_size=40)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            self._pictures[key] = buffer.getvalue()
        return self._pictures[key]
