"""The plain-text part (`email.txt`): the same content, every link written out, lines ≤ 78.

A URL longer than a line is never broken, so it stays clickable; every other
line is wrapped at 78 characters.
"""

from __future__ import annotations

import re

from jinja2 import Environment


def render(env: Environment, view) -> str:
    """The plain-text version of an issue."""
    text = env.get_template("email.txt").render(view=view)
    return re.sub(r"\n{4,}", "\n\n\n", text).strip() + "\n"
