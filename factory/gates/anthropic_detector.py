"""A detect-secrets plugin for Anthropic API keys, which the scanner does not know by itself.

Loaded by detect-secrets from this file's path; it must stay importable on its own.
"""

import re

from detect_secrets.plugins.base import RegexBasedDetector


class AnthropicKeyDetector(RegexBasedDetector):
    """Scans for Anthropic API keys (sk-ant-...)."""

    secret_type = "Anthropic API Key"
    denylist = (re.compile(r"sk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{20,}"),)
