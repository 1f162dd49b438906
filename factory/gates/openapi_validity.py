"""The OpenAPI 3.1 validator the contracts gate runs, with JSON Schema 2020-12's `time` format.

openapi-spec-validator 0.9 checks a `default` against draft 3's `time` rule (`HH:MM:SS`, no offset), so an
RFC 3339 `full-time` default such as `08:00:00Z` (what OpenAPI 3.1 and JSON Schema 2020-12 mean by `time`, and
what the service accepts) would fail the gate. Same validator otherwise.
"""

from __future__ import annotations

import copy
from typing import ClassVar

from jsonschema import Draft202012Validator
from openapi_spec_validator.validation import keywords
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

_OAS31_FORMATS = keywords.OpenAPIV31ValueValidator.value_validator_format_checker
_FORMATS = copy.copy(_OAS31_FORMATS)
_FORMATS.checkers = {**_OAS31_FORMATS.checkers, "time": Draft202012Validator.FORMAT_CHECKER.checkers["time"]}


class _DefaultValidator(keywords.OpenAPIV31ValueValidator):
    value_validator_format_checker = _FORMATS


class OpenAPI31Validator(OpenAPIV31SpecValidator):
    keyword_validators: ClassVar[dict] = {**OpenAPIV31SpecValidator.keyword_validators, "default": _DefaultValidator}
