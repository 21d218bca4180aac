"""The project's wiring of fastmango.accounts: the staff roles it starts with.

Codenames are `<model>.<action>` (fastmango.accounts.account_service.all_codenames);
`manage.py seed` creates these groups, and an admin can change them later.
"""

from __future__ import annotations

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "Marketing": ("product.view", "product.add", "product.change"),
    "Sales": (
        "webinar.view",
        "webinar.change",
        "webinarregistrant.view",
        "webinarregistrant.change",
    ),
    "Support": ("product.view", "webinar.view", "webinarregistrant.view"),
}
