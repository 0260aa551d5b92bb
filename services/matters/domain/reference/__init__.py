"""Reference guide definitions (情形引导) shipped with the code as data.

Loading the packaged JSON is the only I/O in the domain package and is kept here, out of
the pure evaluator.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

_FOOD_LICENCE_GD = "food_licence_gd.json"


def load_food_licence_guide() -> dict[str, Any]:
    """The 广东 食品经营许可 guide definition (seed 000); a fresh dict on every call."""
    text = resources.files(__name__).joinpath(_FOOD_LICENCE_GD).read_text(encoding="utf-8")
    definition: dict[str, Any] = json.loads(text)
    return definition
