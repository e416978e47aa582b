"""Every schema through the bytes path alone: same objects as the dict path, same JSON back."""

from __future__ import annotations

import orjson
import pytest

from ffn_async.codec import _wire, serialization
from ffn_async.models._base import is_request_name

from .payloads import MODULES, payload, with_unknown_enums, without_unknown
from .test_every_schema import OBJECTS, _ids


@pytest.mark.parametrize("unknown_enums", [False, True])
@pytest.mark.parametrize("case", OBJECTS, ids=_ids)
def test_fast_path_decodes_and_encodes_every_schema(
    case: tuple[str, str], unknown_enums: bool
) -> None:
    api, name = case
    cls = getattr(MODULES[api], name)
    data = payload(api, name)
    if unknown_enums:
        data = with_unknown_enums(data, cls)
    raw = orjson.dumps(data)
    fast = _wire.decoder(cls)(raw)  # raises if the fast path refused the payload
    assert fast == serialization.structure(serialization._loads_exact(raw), cls)
    checked = is_request_name(name) and not unknown_enums  # a request's enum subset is checked
    sent = _wire.encoder(cls, checked)(fast)
    assert orjson.loads(sent) == without_unknown(data)
    if checked or not is_request_name(name):
        assert serialization.dumps(fast) == sent
