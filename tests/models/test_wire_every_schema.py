"""Every schema through the bytes path alone: same objects as the dict path, same JSON back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ffn_async import _wire, models, serialization
from ffn_async.models._base import is_request_name

from .payloads import PayloadBuilder
from .test_every_schema import OBJECT_NAMES, _without_unknown


@pytest.mark.parametrize("unknown_enums", [False, True])
@pytest.mark.parametrize("name", OBJECT_NAMES)
def test_fast_path_decodes_and_encodes_every_schema(
    name: str, unknown_enums: bool, schemas: dict[str, Any]
) -> None:
    payload = PayloadBuilder(schemas, unknown_enums=unknown_enums).object(name)
    cls = getattr(models, name)
    raw = orjson.dumps(payload)
    fast = _wire.decoder(cls)(raw)  # raises if the fast path refused the payload
    assert fast == serialization.structure(serialization._loads_exact(raw), cls)
    checked = is_request_name(name) and not unknown_enums  # a request's enum subset is checked
    sent = _wire.encoder(cls, checked)(fast)
    assert orjson.loads(sent) == _without_unknown(payload)
    if checked or not is_request_name(name):
        assert serialization.dumps(fast) == sent
