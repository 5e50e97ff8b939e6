"""The web version (`index.html`): semantic HTML5, responsive, readable without JavaScript."""

from __future__ import annotations

from jinja2 import Environment


def render(env: Environment, view) -> str:
    """The web page of an issue."""
    return env.get_template("web.html").render(view=view)
