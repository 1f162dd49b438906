"""The offline, deterministic engine: Pack0 contracts in, source and tests out, as data (path -> text)."""
