"""Providers that answer agent requests: the offline engine today; model APIs plug in beside it."""
