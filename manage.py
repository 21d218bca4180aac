#!/usr/bin/env python
"""The project's command line, Django's way: `python manage.py --help`."""

from fastmango.management import execute_from_command_line
from settings import get_settings

if __name__ == "__main__":
    execute_from_command_line(get_settings)
