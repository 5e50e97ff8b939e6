"""The PDF (`<id>.pdf`): A4, from HTML and print CSS with WeasyPrint.

A tagged PDF/UA-1 (ISO 14289-1), as Norway's universal-design rules ask of a
document a public body publishes: title, author and language (from <title>,
<meta name=author> and <html lang>) in its metadata, bookmarks from the
headings (sections, organisations, entries), fonts embedded. Each cited
address is a footnote at the foot of the page that cites it, so a printed
copy keeps it beside the text; links stay clickable.

Footnotes are numbered through the whole issue (1, 2, 3 … in reading order,
the intro's and the back page's included), not from 1 on each page. CSS GCPM
3 (§2.8) numbers per page with `@page { counter-reset: footnote }`, but
WeasyPrint (70 here) gives footnote numbers while it builds the boxes, before
there are pages, and ignores that rule (Kozea/WeasyPrint#2553, open). The
other way, laying the document out once to learn each note's page and again
with those numbers written in, would double the PDF's time (the reason the
contents list has no page numbers either). Numbering through the issue is
consistent: every page prints the notes of exactly the calls it makes,
numbered without gaps (tests/test_pdf.py).

The text is Open Sans (Debian's fonts-open-sans), with DejaVu Sans as the
fallback the quick start installs; see print.html.
"""

from __future__ import annotations

from jinja2 import Environment


def render(env: Environment, view) -> bytes:
    """The PDF of an issue, as bytes: print.html rendered by WeasyPrint as a tagged PDF/UA-1.

    A template error surfaces as Jinja's TemplateError (build.py turns it into a one-line message).
    """
    from weasyprint import HTML  # imported here: it loads Pango, which only this format needs

    html = env.get_template("print.html").render(view=view)
    return HTML(string=html, base_url=None).write_pdf(pdf_variant="pdf/ua-1", uncompressed_pdf=False)
