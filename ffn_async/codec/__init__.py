"""The converter between FFN JSON and the model classes: bytes, dicts, and validation.

:mod:`~ffn_async.codec.serialization` is the public face (dicts and validation, and the
entry points for bytes); :mod:`~ffn_async.codec._wire` decodes and encodes bytes through
msgspec Structs; :mod:`~ffn_async.codec._modelinfo` is what both know about a model class.
"""

from __future__ import annotations

from .serialization import (
    converter,
    decode,
    decode_envelope,
    decoder,
    dumps,
    loads,
    structure,
    unstructure,
    validate,
)

__all__ = [
    "converter",
    "decode",
    "decode_envelope",
    "decoder",
    "dumps",
    "loads",
    "structure",
    "unstructure",
    "validate",
]
