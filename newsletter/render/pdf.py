"""The PDF (`<id>.pdf`): A4, from HTML and print CSS with WeasyPrint.

Title, author and language go into the PDF's metadata (from <title>, <meta
name=author> and <html lang>); fonts are embedded; links stay clickable; the
cited addresses are printed at the end of each section, so a printed copy
keeps them.
"""

from __future__ import annotations

from jinja2 import Environment


def render(env: Environment, view) -> bytes:
    """The PDF of an issue."""
    from weasyprint import HTML  # imported here: it loads Pango, which only this format needs

    html = env.get_template("print.html").render(view=view)
    return HTML(string=html, base_url=None).write_pdf(pdf_variant=None, uncompressed_pdf=False)
