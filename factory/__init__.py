"""LAI Factory: turns a module name or a Pack0 spec pack into a tested, gated, evidenced module."""

from __future__ import annotations

__version__ = "0.1.0"
