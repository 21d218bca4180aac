"""Static files with cache headers: hashed build output is immutable, the rest revalidates."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Files under dist/ carry a content hash in their name: a changed file gets a new URL.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"


class CachedStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            hashed = path.startswith("dist/") and not path.endswith("manifest.json")
            response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
        return response
