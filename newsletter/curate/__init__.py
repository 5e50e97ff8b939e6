"""Curation: issue files, the inbox, ranking, triage, checks and link checking: the editor's work."""
