"""The ceiling for bench/run.py: a bare FastAPI app, no middleware, one small JSON answer.

`uvicorn bench.ceiling:app` serves it the same way as the real app (one worker, uvloop,
httptools, no access log), so the ratio app/ceiling shows what the app's own code costs.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/")
async def read_root() -> dict[str, str]:
    return {"status": "ok"}
