"""The project's own commands: each module here is `manage.py <its name>` (its `command`)."""
