"""Django's ModelAdmin options, checked against the model and turned into sqladmin's.

`check` runs when a class is registered (so at start-up, as Django's admin checks)
and names every option that points at a field the model does not have.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqladmin.exceptions import ImproperlyConfigured
from sqladmin.filters import AllUniqueStringValuesFilter, BooleanFilter, StaticValuesFilter
from sqlalchemy import Boolean, Column, Date, DateTime, String
from sqlalchemy import Enum as SAEnum
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator, TypeEngine
from wtforms import validators  # type: ignore[import-untyped]

from fastmango.accounts.audit_service import SECRET_FIELDS
from fastmango.admin.files import file_fields, file_link
from fastmango.admin.filters import DateFilter, RelatedFilter

if TYPE_CHECKING:
    from fastmango.admin.options import ModelAdmin


def _mapper(model: type[Any]) -> Mapper[Any]:
    mapper: Mapper[Any] = sa_inspect(model)
    return mapper


def _column(model: type[Any], name: str) -> Column[Any] | None:
    mapper = _mapper(model)
    if name in SECRET_FIELDS or name not in mapper.column_attrs:
        return None
    column: Column[Any] = mapper.columns[name]
    return column


def _base_type(column: Column[Any]) -> TypeEngine[Any]:
    # SQLModel's AutoString and our column types decorate a plain SQLAlchemy type.
    kind: TypeEngine[Any] = column.type
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return kind


def _is_path(model: type[Any], path: str) -> bool:
    """`name` or Django's `webinar__title` through many-to-one relations to a column."""
    *relations, field = path.split("__")
    for name in relations:
        relation = _mapper(model).relationships.get(name)
        if relation is None or relation.uselist:  # a to-many join would repeat rows
            return False
        model = relation.mapper.class_
    return _column(model, field) is not None


def _filter_column(model: type[Any], name: str) -> Column[Any] | None:
    """The column a list_filter entry names: a column, or a many-to-one relation's key."""
    relation = _mapper(model).relationships.get(name)
    if relation is None:
        return _column(model, name)
    if relation.direction.name != "MANYTOONE" or len(relation.local_columns) != 1:
        return None
    (column,) = relation.local_columns
    return _column(model, _mapper(model).get_property_by_column(column).key)


def _referenced_model(model: type[Any], column: Column[Any]) -> type[Any] | None:
    keys = list(column.foreign_keys)
    if len(keys) != 1:
        return None
    for mapper in _mapper(model).registry.mappers:
        if mapper.local_table is keys[0].column.table:
            target: type[Any] = mapper.class_
            return target
    return None


def _filter_for(model: type[Any], name: str) -> Any:
    column = _filter_column(model, name)
    if column is None:
        return None
    name = column.key
    title = name.replace("_", " ").capitalize()
    if column.foreign_keys:
        target = _referenced_model(model, column)
        if target is None:
            return None
        title = name.removesuffix("_id").replace("_", " ").capitalize()
        for relation in _mapper(model).relationships:
            if relation.direction.name == "MANYTOONE" and column in relation.local_columns:
                title = relation.key.replace("_", " ").capitalize()
        return RelatedFilter(column, target, title)
    kind = _base_type(column)
    if isinstance(kind, Boolean):
        return BooleanFilter(name, title=title)
    if isinstance(kind, SAEnum):  # before String: an Enum is a String
        values = [(value, value.replace("_", " ").capitalize()) for value in kind.enums]
        return StaticValuesFilter(name, values=values, title=title)
    if isinstance(kind, String):
        return AllUniqueStringValuesFilter(name, title=title)
    if isinstance(kind, DateTime | Date):
        return DateFilter(column, title, is_date=isinstance(kind, Date))
    return None


# Django ModelAdmin options fastmango does not implement, with Django's check id for each
# (E500: an option Django never checks): set on a class, they are refused at registration
# rather than silently ignored.
UNSUPPORTED: dict[str, str] = {
    "raw_id_fields": "admin.E001",
    "fields": "admin.E004",
    "fieldsets": "admin.E007",
    "filter_vertical": "admin.E017",
    "filter_horizontal": "admin.E018",
    "radio_fields": "admin.E021",
    "view_on_site": "admin.E025",
    "autocomplete_fields": "admin.E036",
    "inlines": "admin.E103",
    "list_display_links": "admin.E109",
    "list_select_related": "admin.E117",
    "list_max_show_all": "admin.E119",
    "list_editable": "admin.E120",
    "date_hierarchy": "admin.E127",
    "formfield_overrides": "admin.E500",
    "save_on_top": "admin.E500",
    "preserve_filters": "admin.E500",
    "show_full_result_count": "admin.E500",
    "empty_value_display": "admin.E500",
    "search_help_text": "admin.E500",
    "show_facets": "admin.E500",
    "paginator": "admin.E500",
    "actions_on_top": "admin.E500",
    "actions_on_bottom": "admin.E500",
    "actions_selection_counter": "admin.E500",
    "change_form_template": "admin.E500",
    "change_list_template": "admin.E500",
    "add_form_template": "admin.E500",
}


def _prepopulated_errors(admin: type[ModelAdmin], model: type[Any]) -> Iterator[str]:
    where = f"{admin.__name__}.prepopulated_fields"
    fields = admin.prepopulated_fields
    if not isinstance(fields, Mapping):
        yield f"{where} must be a dictionary (admin.E026)"
        return
    for target, sources in fields.items():
        column = _column(model, target)
        kind = _base_type(column) if column is not None else None
        text = isinstance(kind, String) and not isinstance(kind, SAEnum)
        if column is None or column.foreign_keys or not text:
            yield (
                f"{where} refers to {target!r}, which is not a text column of "
                f"{model.__name__} (admin.E027)"
            )
        if isinstance(sources, str) or not isinstance(sources, Sequence) or not sources:
            yield f"{where}[{target!r}] must be a non-empty list or tuple (admin.E029)"
            continue
        for index, source in enumerate(sources):
            if _column(model, source) is None:
                yield (
                    f"{where}[{target!r}][{index}] refers to {source!r}, which is not a "
                    f"column of {model.__name__} (admin.E030)"
                )


def _errors(admin: type[ModelAdmin], model: type[Any]) -> Iterator[str]:
    where = admin.__name__
    fields = set(_mapper(model).attrs.keys()) - SECRET_FIELDS
    named: dict[str, tuple[Callable[[str], bool], str, str]] = {
        # option: (is the name acceptable?, what it must be, Django's check id)
        "list_display": (lambda n: n in fields, "a field", "admin.E108"),
        # (dates and many-to-one relations too; the wording is pinned by tests/test_admin.py)
        "list_filter": (lambda n: _filter_for(model, n) is not None, "a boolean, enum, "
                        "string or foreign key column", "admin.E116"),
        "search_fields": (lambda n: _is_path(model, n), "a column or relation__column",
                          "admin.E126"),
        "readonly_fields": (lambda n: _column(model, n) is not None, "a column", "admin.E035"),
        "ordering": (lambda n: _column(model, n.removeprefix("-")) is not None, "a column",
                     "admin.E033"),
        "exclude": (lambda n: n in fields, "a field", "admin.E014"),
        "sortable_by": (lambda n: _column(model, n) is not None, "a column", "admin.E108"),
    }  # fmt: skip
    for option, (acceptable, kind, check_id) in named.items():
        names = getattr(admin, option) or ()
        if isinstance(names, str):
            yield f"{where}.{option} must be a list or tuple, not a string ({check_id})"
            continue
        for index, name in enumerate(names):
            if not acceptable(name):
                yield (
                    f"{where}.{option}[{index}] refers to {name!r}, which is not {kind} "
                    f"of {model.__name__} ({check_id})"
                )
    for option, check_id in UNSUPPORTED.items():
        if hasattr(admin, option):
            yield (
                f"{where}.{option} is a Django admin option that fastmango does not support: "
                f"remove it ({check_id})"
            )
    yield from _prepopulated_errors(admin, model)
    if not isinstance(admin.list_per_page, int) or admin.list_per_page < 1:
        yield f"{where}.list_per_page must be a positive integer (admin.E118)"
    for index, function in enumerate(admin.actions):
        if not hasattr(function, "short_description"):
            yield f"{where}.actions[{index}] is not decorated with @admin.action (admin.E130)"


def check(admin: type[ModelAdmin], model: type[Any]) -> None:
    """Raise ImproperlyConfigured listing every option that names a missing field."""
    errors = list(_errors(admin, model))
    if errors:
        raise ImproperlyConfigured("\n".join(errors))


def _enum_value(value: Any) -> str:
    # sqladmin's select coerces enums to their *name*; our enums store their *value*,
    # so without this an edit form would not preselect the current status.
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def _label(name: str) -> str:
    """Django's verbose names: `in_stock` is shown as "In stock", `id` as "ID"."""
    return "ID" if name == "id" else name.replace("_", " ").capitalize()


def readonly_fields(admin: type[ModelAdmin], model: type[Any]) -> tuple[str, ...]:
    """The admin's read-only fields plus every file field: a storage name is never typed in
    (uploads go through the service, which makes the name)."""
    declared = tuple(admin.readonly_fields)
    files = (name for name in file_fields(model) if name not in {*declared, *admin.exclude})
    return declared + tuple(files)


def sqladmin_options(admin: type[ModelAdmin], model: type[Any]) -> dict[str, Any]:
    """sqladmin's class attributes for a checked ModelAdmin."""
    mapper = _mapper(model)
    columns = set(mapper.column_attrs.keys())
    pk_name = mapper.get_property_by_column(mapper.primary_key[0]).key
    list_display = list(admin.list_display) or [pk_name]
    secrets = sorted(SECRET_FIELDS & set(mapper.attrs.keys()))
    excluded = {*admin.exclude, *secrets}
    readonly = list(readonly_fields(admin, model))
    # Columns, relations, then what is only shown (sqladmin puts relations first).
    form_fields = [
        name
        for name in [*mapper.column_attrs.keys(), *mapper.relationships.keys()]
        if name not in excluded and name not in readonly
    ] + readonly
    sortable = admin.sortable_by
    enums = [name for name in columns if isinstance(_base_type(mapper.columns[name]), SAEnum)]
    names = [attr.key for attr in mapper.attrs]
    return {
        "column_labels": {key: _label(key) for key in names} | admin.column_labels,
        "column_list": list_display,
        "column_details_exclude_list": secrets,
        # Columns only: a related row would be exported with str(), its repr.
        "column_export_list": [name for name in list_display if name in columns],
        "column_searchable_list": [path.replace("__", ".") for path in admin.search_fields],
        "column_sortable_list": list(
            sortable if sortable is not None else [n for n in list_display if n in columns]
        ),
        "column_default_sort": [
            (name.removeprefix("-"), name.startswith("-")) for name in admin.ordering
        ]
        or [(pk_name, True)],
        "column_filters": [_filter_for(model, name) for name in admin.list_filter],
        "page_size": admin.list_per_page,
        "page_size_options": sorted({admin.list_per_page, 25, 50, 100}),
        "column_formatters_detail": {
            **dict.fromkeys(file_fields(model), file_link),
            **admin.column_formatters_detail,
        },
        "form_columns": form_fields,
        # Shown on the edit form only; on_model_change drops any value posted for them.
        "form_create_rules": [name for name in form_fields if name not in readonly],
        "form_edit_rules": form_fields,
        "form_widget_args": {
            **admin.form_widget_args,
            **{name: {"readonly": True} for name in readonly},
        },
        "form_args": {
            **{name: {"coerce": _enum_value} for name in enums},
            # Left empty, a prepopulated field is made from its sources on save (slugs.py).
            **{name: {"validators": [validators.Optional()]} for name in admin.prepopulated_fields},
            **admin.form_args,
        },
    }
