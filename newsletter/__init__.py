"""newsletter: collect, curate, render, mail and archive a quarterly newsletter."""

__version__ = "0.1.0"
