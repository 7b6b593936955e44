"""The bare baseline: FastAPI + an asyncpg pool, GET one order by id, nothing else.

No validation model, no error envelope, no middleware, no logging: the floor
that the generated service's read path is measured against.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import FastAPI, HTTPException

DATABASE_URL = os.environ["DATABASE_URL"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=10, max_size=20)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/v1/orders/{order_id}")
async def get_order(order_id: UUID) -> dict[str, Any]:
    row = await app.state.pool.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
    if row is None:
        raise HTTPException(status_code=404)
    return dict(row)
