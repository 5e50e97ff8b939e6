"""The web version (`index.html`): semantic HTML5, responsive, readable without JavaScript."""

from __future__ import annotations

from jinja2 import Environment


def render(env: Environment, view, site=None, downloads: tuple[tuple[str, str], ...] = ()) -> str:
    """The web page of an issue; with `site`, the archive's navigation and canonical address too.

    `downloads` are (label, relative address) pairs of the files built beside it (the PDF, the calendar).
    """
    return env.get_template("web.html").render(view=view, site=site, downloads=downloads)
