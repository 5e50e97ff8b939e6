"""The e-mail HTML (`email.html`): table layout, 600 px, every CSS rule inlined by premailer.

premailer runs here, once per build; the mailing stage only replaces the
per-recipient placeholders in the result, so it never runs per recipient.
"""

from __future__ import annotations

import logging

from jinja2 import Environment
from premailer import Premailer


def render(env: Environment, view) -> str:
    """The e-mail HTML of an issue, with styles inlined and no <style> block left."""
    html = env.get_template("email.html").render(view=view)
    # rel="noopener" means nothing in a mail client and costs bytes toward Gmail's 100 KB.
    html = html.replace(' rel="noopener noreferrer"', "")
    inliner = Premailer(
        html,
        keep_style_tags=False,
        remove_classes=True,
        strip_important=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        preserve_handlebar_syntax=False,
        base_url=None,
        disable_link_rewrites=True,
        # Keep width="600" for Outlook; the CSS width (100%, max 600px) is for everyone else.
        disable_basic_attributes=["width", "height"],
    )
    return inliner.transform(pretty_print=False)
