"""Listening history in: parse a format, clean it, load it (only loading knows Django)."""
