"""One parser per source format: RSS/Atom feeds, HTML listings, Stortinget's API, article pages."""
