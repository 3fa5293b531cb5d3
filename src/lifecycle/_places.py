"""Where an engagement is: ISO 3166-1 alpha-3 countries and ISO 3166-2 subdivisions (#13).

Validated with ``pycountry``, whose data ships with it: no network, the same answer offline.
"""

from __future__ import annotations

import functools

__all__ = ["place_problem"]


@functools.lru_cache(maxsize=1024)
def place_problem(kind: str, text: str) -> str:
    """What is wrong with *text* as a value of fact type *kind* (``country``/``subdivision``),
    or "" when it is a valid code."""
    import pycountry  # its data loads in tens of milliseconds: only when a place is checked

    if kind == "country":
        if len(text) == 3 and text.isupper() and pycountry.countries.get(alpha_3=text):
            return ""
        return f"{text!r} is not an ISO 3166-1 alpha-3 country code (for example KEN)"
    # pycountry's subdivisions.get is untyped.
    found = pycountry.subdivisions.get(code=text)  # type: ignore[no-untyped-call]
    if "-" in text and text == text.upper() and found:
        return ""
    return f"{text!r} is not an ISO 3166-2 subdivision code (for example KE-30)"
