"""Thin HTTP: the JSON API, the pages, media, and how errors and limits look to clients."""
