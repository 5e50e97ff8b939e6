"""Contacts and mailing."""
