"""The PDF (`<id>.pdf`): A4, from HTML and print CSS with WeasyPrint.

A tagged PDF/UA-1 (ISO 14289-1), as Norway's universal-design rules ask of a
document a public body publishes: title, author and language (from <title>,
<meta name=author> and <html lang>) in its metadata, bookmarks from the
headings (sections, organisations, entries), fonts embedded. Each cited
address is a footnote at the foot of the page that cites it, so a printed
copy keeps it beside the text; links stay clickable.
"""

from __future__ import annotations

from jinja2 import Environment


def render(env: Environment, view) -> bytes:
    """The PDF of an issue."""
    from weasyprint import HTML  # imported here: it loads Pango, which only this format needs

    html = env.get_template("print.html").render(view=view)
    return HTML(string=html, base_url=None).write_pdf(pdf_variant="pdf/ua-1", uncompressed_pdf=False)
