"""Markdown from a model (or anyone) to HTML that is safe to put in a page.

Two layers: markdown-it with raw HTML off (tags in the text come out as text, and it
refuses `javascript:`-style links), then nh3 with an allow-list, so nothing but plain
formatting survives even if the first layer missed something: no scripts, styles,
images, event handlers or classes, and links only to http(s), mailto or our own paths,
each with rel="noopener nofollow".
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_cleaner = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener nofollow",
)


def render_markdown(text: str) -> Markup:
    """Sanitised HTML for `text` (Markdown); Jinja outputs it as is."""
    return Markup(_cleaner.clean(_markdown.render(text)))  # noqa: S704 (sanitised just now)
