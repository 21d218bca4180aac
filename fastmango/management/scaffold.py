"""The files `startapp NAME` writes, as `string.Template`s ($name...; Jinja keeps its braces)."""

from __future__ import annotations

from string import Template

ROUTE = Template('''\
"""$title pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from deps import TemplatesDep
from services.${name}_service import $service_class

router = APIRouter(
    prefix="/$name",
    tags=["$name"],
    default_response_class=HTMLResponse,
)
service = $service_class()
TEMPLATE = "$name/index.html"


@router.get("", name="${name}_list")
async def list_$name(request: Request, templates: TemplatesDep) -> HTMLResponse:
    items = await service.list_items()
    return templates.TemplateResponse(request, TEMPLATE, {"items": items})
''')

SERVICE = Template('''\
"""$title: business rules and data access."""

from __future__ import annotations


class $service_class:
    """What the /$name pages need.

    Replace the sample items with queries: `await MyModel.objects.filter(...)`.
    """

    async def list_items(self) -> list[str]:
        """The items the page lists."""
        return ["First item", "Second item"]
''')

TEMPLATE = Template("""\
{% extends "base.html" %}
{% block title %}$title{% endblock %}
{% block content %}
<h1>$title</h1>
<ul>
  {% for item in items %}<li>{{ item }}</li>{% endfor %}
</ul>
{% endblock %}
""")

TEST = Template('''\
"""The /$name page."""

import httpx


async def test_list_$name(client: httpx.AsyncClient) -> None:
    response = await client.get("/$name")
    assert response.status_code == 200
    assert "<h1>$title</h1>" in response.text
    assert "<li>First item</li>" in response.text
''')


def render(template: Template, name: str) -> str:
    """Fill a scaffold template for the app `name` (e.g. "blog_posts")."""
    service_class = "".join(part.capitalize() for part in name.split("_") if part) + "Service"
    title = name.replace("_", " ").strip().capitalize()
    return template.substitute(name=name, service_class=service_class, title=title)
