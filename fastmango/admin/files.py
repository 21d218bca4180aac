"""File fields in the admin: served from the storage backend, never read from a path.

sqladmin 0.32 has `/<identity>/<pk>/<column>/download/` and `.../preview/` routes that
take any column's value as a file system path (checked only against the working
directory), so a registrant's company `settings.py` was a way to read the server's
files. Here a file field is a column of type `storage.StorageName`; for those the routes
redirect to the file's URL in storage (after sqladmin's details permission check),
for every other column they are a 404. The admin never opens a file itself.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqladmin.helpers import get_object_identifier
from sqlalchemy import inspect as sa_inspect
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from fastmango.storage import Storage, StorageName, is_storage_name


def file_fields(model: type[Any]) -> tuple[str, ...]:
    """The model's columns that hold a storage name (in the admin: read-only, served by URL)."""
    return tuple(
        attr.key
        for attr in sa_inspect(model).column_attrs
        if isinstance(attr.columns[0].type, StorageName)
    )


async def stored_file(view: Any, request: Request) -> RedirectResponse:
    """Redirect to a file field's stored file: 404 for another column, no file or a bad name.

    `view` has passed sqladmin's details check (`Admin._file_access`) for this request.
    """
    column = request.path_params["column_name"]
    if column not in file_fields(view.model):
        raise HTTPException(404, "There is no file here.")
    row = await view.get_object_for_details(request)
    name = getattr(row, column, None) if row is not None else None
    if not is_storage_name(name):  # none, or a value that is not a name: no file to show
        raise HTTPException(404, "There is no file here.")
    storage: Storage = request.app.state.storage
    return RedirectResponse(storage.url(name), status_code=303)


def file_link(row: Any, column: str, request: Request) -> Markup | str:
    """A file field on the details page: a link to the file (through the route above)."""
    name = getattr(row, column, None)
    if name is None:
        return ""
    if not is_storage_name(name):  # a bad value left in the row is not shown, nor linked
        return "(not a stored file)"
    url = request.url_for(
        "admin:file_preview",
        identity=request.path_params["identity"],
        pk=str(get_object_identifier(row)),
        column_name=column,
    )
    return Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, name)
