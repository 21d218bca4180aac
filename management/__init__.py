"""The commands of `manage.py`, one module per bigger command."""
