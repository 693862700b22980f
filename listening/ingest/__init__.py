"""Listening history in: parse a source format, clean it, load it. No Django in parsing or cleaning."""
