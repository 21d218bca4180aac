"""Apps, Django's way: each names the modules it brings and gets a `ready()` at start-up.

    # blog/apps.py
    class BlogConfig(AppConfig):
        name = "blog"
        verbose_name = "Blog"

        def ready(self) -> None:
            from blog import signals  # noqa: F401 (connects the receivers)

    # settings.py
    installed_apps: list[str] = [*BaseSettings.default_apps, "blog.apps.BlogConfig"]

`populate()` imports each app's `models` and `admin` modules (registering its tables
and admin classes) and then calls every `ready()`, once, in order. An entry is the
dotted path of an AppConfig class, or of a package (which gets a plain AppConfig).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import ClassVar


class AppConfig:
    """One app: a package of models, admin classes, commands and signal receivers."""

    # The app's package, dotted ("blog", "fastmango.accounts"); empty for the project
    # itself, whose modules are at the top level (then `label` is required).
    name: ClassVar[str] = ""
    # Short and unique; defaults to the last part of `name`.
    label: str = ""
    verbose_name: str = ""
    # Modules imported at start-up, relative to `name`; missing ones are skipped.
    modules: ClassVar[tuple[str, ...]] = ("models", "admin")

    def __init__(self) -> None:
        if not (self.name or self.label):
            raise ValueError(f"{type(self).__name__} needs a `name` (its package) or a `label`")
        self.label = self.label or self.name.rpartition(".")[2]
        self.verbose_name = self.verbose_name or self.label.replace("_", " ").capitalize()

    def module_paths(self) -> Iterator[str]:
        for module in self.modules:
            yield f"{self.name}.{module}" if self.name else module

    def import_modules(self) -> None:
        for path in self.module_paths():
            try:
                importlib.import_module(path)
            except ModuleNotFoundError as exc:
                if exc.name is None or not path.startswith(exc.name):
                    raise  # the module exists but imports something missing
                # The app has no such module: nothing to register.

    def ready(self) -> None:
        """Called once every app's modules are imported: connect signals here."""


class AppRegistry:
    """The installed apps, in order (Django's `django.apps.apps`)."""

    def __init__(self) -> None:
        self.configs: dict[str, AppConfig] = {}
        self.ready = False

    def populate(self, entries: Iterable[str]) -> None:
        """Load each app, import its modules, then call `ready()`; once per process."""
        if self.ready:
            return
        configs = [load_config(entry) for entry in entries]
        for config in configs:
            if config.label in self.configs:
                raise ValueError(f"Two installed apps have the label {config.label!r}")
            self.configs[config.label] = config
        for config in configs:
            config.import_modules()
        for config in configs:
            config.ready()
        self.ready = True

    def get_app_config(self, label: str) -> AppConfig:
        try:
            return self.configs[label]
        except KeyError:
            raise LookupError(f"No installed app with the label {label!r}") from None

    def __iter__(self) -> Iterator[AppConfig]:
        return iter(self.configs.values())


def load_config(entry: str) -> AppConfig:
    """`"blog.apps.BlogConfig"` (a class) or `"blog"` (a package, default config)."""
    module_path, _, attribute = entry.rpartition(".")
    if module_path:
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError:
            module = None
        candidate = getattr(module, attribute, None)
        if isinstance(candidate, type) and issubclass(candidate, AppConfig):
            return candidate()
    importlib.import_module(entry)  # a package: fails clearly when it does not exist
    config_class: type[AppConfig] = type(
        f"{entry.title().replace('.', '')}Config", (AppConfig,), {"name": entry}
    )
    return config_class()


apps = AppRegistry()
