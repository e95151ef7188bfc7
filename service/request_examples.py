"""One valid request per POST operation, shown as the request body's example in the OpenAPI document.

The household document is the README's (docs/examples/household.json, synthetic), the profile is that household's
profile as the batch builds it. Operations whose body model declares its own examples (visits, events,
subscriptions) keep them. The files are read when the document is first built, never at import.
`tests/service/test_request_examples.py` sends every example to the app and expects it accepted.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

JSON: Final = "application/json"


def _file(name: str) -> Any:
    return json.loads(resources.files("service").joinpath("examples", name).read_text(encoding="utf-8"))


@cache
def request_examples() -> dict[tuple[str, str], Any]:
    """(path, content type) → the example body of that POST operation."""
    return {
        ("/v1/households:score", JSON): _file("household.json"),
        ("/v1/profiles:score", JSON): _file("profile.json"),
        ("/v1/jobs", JSON): {"path": "county-990108/2025-07", "as_of": "2025-07-01", "explain": True},
        ("/v1/jobs", "multipart/form-data"): {"as_of": "2025-07-01", "explain": True},
        ("/reports/links", JSON): {"path": "/reports/region/990108", "minutes": 30, "lang": "zh"},
    }
