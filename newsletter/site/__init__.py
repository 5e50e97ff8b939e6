"""The static web archive of every published issue."""
