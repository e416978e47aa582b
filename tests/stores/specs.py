"""Picklable descriptions of every store under test, so child processes can build the same one."""

from __future__ import annotations

from typing import Any

import attrs

from tests.services import SCRATCH, scratch_table
from token_stores import EncryptedTokenStore, TokenStore, from_url

#: Unique per test run: tests sharing the servers with other runs never see each other's data,
#: and tests/conftest.py removes them at the end of the run (services.clean_scratch).
RUN = SCRATCH
REDIS_PREFIX = f"{SCRATCH}:"
SQL_TABLE = scratch_table("store")
ENCRYPTION_KEY = "L0PRpgGHJq3ZJPm1Zbxw7XyI4M8xMIiVvOTqMg_n3T0="


@attrs.frozen
class StoreSpec:
    """How to build one store; ``lease_expires`` is False where the kernel frees locks instead."""

    kind: str
    url: str
    options: dict[str, Any] = attrs.field(factory=dict)
    encrypted: bool = False
    lease_expires: bool = True
    cross_process: bool = True

    def build(self) -> TokenStore:
        store = from_url(self.url, **self.options)
        return EncryptedTokenStore(store, ENCRYPTION_KEY) if self.encrypted else store

    async def build_ready(self) -> TokenStore:
        """Build the store and create its schema where it has one."""
        store = self.build()
        inner = store.inner if isinstance(store, EncryptedTokenStore) else store
        create_schema = getattr(inner, "create_schema", None)
        if create_schema is not None:
            await create_schema()
        return store
