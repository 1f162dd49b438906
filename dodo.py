"""`doit auto_full module=NAME out=DIR` (or `doit list`) in a checkout: the same tasks lai-pack drives."""

from doit import get_var

from rules import config_from_doit_vars, namespace

globals().update(namespace(config_from_doit_vars(get_var)))
