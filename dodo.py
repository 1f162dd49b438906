"""`doit auto_full module=NAME out=DIR` (or `doit list`) in a checkout: the same tasks lai-pack drives."""

from doit import get_var

from rules import namespace_from_doit_vars

globals().update(namespace_from_doit_vars(get_var))
