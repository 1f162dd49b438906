"""The built-in entity catalog the offline Pack0 generator picks from by module name.

Only generation reads this file: once a Pack0 exists, the engine works from its contracts alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factory.fsutil import DEVICE_NAMES

_NAME = {"type": "string", "minLength": 1, "maxLength": 120}
_EMAIL = {"type": "string", "format": "email", "maxLength": 254}
_TEXT = {"type": "string", "maxLength": 2000}


@dataclass(frozen=True)
class CatalogEntity:
    name: str
    description: str
    properties: dict[str, dict] = field(default_factory=dict)
    required: tuple[str, ...] = ()


CONTACT = CatalogEntity(
    "contact",
    "A person the sales team talks to.",
    {
        "first_name": _NAME,
        "last_name": _NAME,
        "email": _EMAIL,
        "phone": {"type": "string", "maxLength": 32, "pattern": "^[+0-9 ()-]*$"},
        "status": {"type": "string", "enum": ["lead", "prospect", "customer", "churned"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 20},
        "is_subscribed": {"type": "boolean"},
    },
    ("first_name", "last_name", "email"),
)
COMPANY = CatalogEntity(
    "company",
    "An organisation contacts belong to.",
    {
        "name": _NAME,
        "domain": {"type": "string", "maxLength": 253},
        "industry": {"type": "string", "maxLength": 80},
        "employee_count": {"type": "integer", "minimum": 0},
        "annual_revenue": {"type": "number", "minimum": 0},
    },
    ("name",),
)
MEETING = CatalogEntity(
    "meeting",
    "A scheduled conversation.",
    {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "starts_at": {"type": "string", "format": "date-time"},
        "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
        "location": {"type": "string", "maxLength": 200},
        "status": {"type": "string", "enum": ["scheduled", "completed", "cancelled"]},
        "is_recorded": {"type": "boolean"},
    },
    ("title", "starts_at", "duration_minutes"),
)
PARTICIPANT = CatalogEntity(
    "participant",
    "Someone invited to a meeting.",
    {
        "meeting_id": {"type": "string", "format": "uuid"},
        "display_name": _NAME,
        "email": _EMAIL,
        "role": {"type": "string", "enum": ["host", "attendee", "guest"]},
    },
    ("meeting_id", "display_name", "role"),
)
INVOICE = CatalogEntity(
    "invoice",
    "A bill sent to a customer.",
    {
        "number": {"type": "string", "minLength": 1, "maxLength": 40, "x-unique": True},
        "customer_name": _NAME,
        "issue_date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
        "amount_cents": {"type": "integer", "minimum": 0},
        "status": {"type": "string", "enum": ["draft", "sent", "paid", "void"]},
    },
    ("number", "customer_name", "issue_date", "currency", "amount_cents"),
)
CUSTOMER = CatalogEntity(
    "customer",
    "Who invoices are addressed to.",
    {"name": _NAME, "email": _EMAIL, "vat_id": {"type": "string", "maxLength": 32}},
    ("name", "email"),
)
TASK = CatalogEntity(
    "task",
    "A unit of work with a status.",
    {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": _TEXT,
        "status": {"type": "string", "enum": ["todo", "in_progress", "done"]},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "due_date": {"type": "string", "format": "date"},
        "assignee_email": _EMAIL,
    },
    ("title", "status"),
)
PROJECT = CatalogEntity(
    "project",
    "A group of tasks.",
    {"name": _NAME, "description": _TEXT, "is_archived": {"type": "boolean"}},
    ("name",),
)

# Module-name keywords, checked in order; the first whose keyword starts a name token wins.
DOMAINS: tuple[tuple[tuple[str, ...], tuple[CatalogEntity, ...]], ...] = (
    (("crm", "contact"), (CONTACT, COMPANY)),
    (("meet",), (MEETING, PARTICIPANT)),
    (("invoice", "billing"), (INVOICE, CUSTOMER)),
    (("task", "todo"), (TASK, PROJECT)),
)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def generic_entity(module: str) -> CatalogEntity:
    """Fallback for any other name: one entity named after the module's last word (else 'item')."""
    last = module.split("-")[-1]
    name = _singular(last) if last.isalpha() and len(last) >= 3 else "item"
    if name in DEVICE_NAMES:  # the entity names files (contracts/<name>.schema.json)
        name = "item"
    return CatalogEntity(
        name,
        f"A record managed by the {module} module.",
        {
            "name": _NAME,
            "description": _TEXT,
            "status": {"type": "string", "enum": ["active", "archived"]},
            "quantity": {"type": "integer", "minimum": 0},
        },
        ("name",),
    )


def entities_for_module(module: str) -> tuple[CatalogEntity, ...]:
    tokens = module.split("-")
    for keywords, entities in DOMAINS:
        if any(token.startswith(keyword) for token in tokens for keyword in keywords):
            return entities
    return (generic_entity(module),)
