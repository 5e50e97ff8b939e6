"""Rendering: one issue to a web page, an e-mail (HTML and text), a PDF and a calendar file."""
