"""The e-mail HTML (`email.html`): table layout, 600 px, every CSS rule inlined by premailer.

premailer runs here, once per build; the mailing stage only replaces the
per-recipient placeholders in the result, so it never runs per recipient.
"""

from __future__ import annotations

import logging

from jinja2 import Environment
from premailer import Premailer


def render(env: Environment, view) -> str:
    """The e-mail HTML of an issue: styles inlined, one small kept <style> (narrow screens, dark mode).

    Over BUDGET bytes, a link to the web version is put where Gmail's clip would fall.
    """
    html = env.get_template("email.html").render(view=view)
    # rel="noopener" means nothing in a mail client and costs bytes toward Gmail's 100 KB.
    html = html.replace(' rel="noopener noreferrer"', "")
    inliner = Premailer(
        html,
        keep_style_tags=False,  # a <style data-premailer="ignore"> block stays: media queries cannot be inlined
        remove_classes=False,  # the kept dark-mode rules select .deadline
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
    return mark_clip_point(inliner.transform(pretty_print=False), view.web_version_url)


# Gmail clips a message over 102 KB (of HTML) and hides the rest behind "[Message clipped]"; the build warns
# above BUDGET, and from there on a reader is pointed to the web version before the clip can bite.
BUDGET = 90 * 1024


def mark_clip_point(html: str, web_version_url: str) -> str:
    """`html` with a link to the web version before the last heading that starts under BUDGET bytes, when longer."""
    data = html.encode("utf-8")
    if len(data) <= BUDGET:
        return html
    notice = (
        '<p style="font-weight:bold;">Nyhetsbrevet er langt, og e-postprogrammet ditt kan klippe resten bort: '
        f'<a href="{web_version_url}">les hele nyhetsbrevet i nettleseren</a>.</p>\n'
    )
    # The whole notice must fit under the budget, so the heading it goes before starts that much earlier.
    head = data[: BUDGET - len(notice.encode("utf-8"))].decode("utf-8", errors="ignore")
    cut = max(head.rfind("<h2 "), head.rfind("<h3 "))
    if cut <= 0:
        return html
    return html[:cut] + notice + html[cut:]
