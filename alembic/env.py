"""Alembic's environment: fastmango runs it (every installed app's models, batch mode on
SQLite, no empty migrations); the project adds its PostgreSQL-only indexes filter."""

import pgvector.sqlalchemy  # noqa: F401  (registers `vector` so reflection knows it)

import models
from fastmango import conf
from fastmango.migrations_env import run_env
from settings import get_settings

conf.configure(get_settings)
run_env(include_object=models.schema_filter)
