"""Hand-written support for the generated models: the PATCH marker and the wire-name rule.

Everything here is imported by the generated modules and by :mod:`ffn_async.codec.serialization`;
it imports nothing from the generated code, so the generator can load it on its own.

Conventions of the generated models that the serializer relies on:

* one module per API (``merchant``, ``fulfiller``, ``shared``, plus ``common`` for the schemas
  identical in both specs); every name a model's annotations use is imported into its module at
  run time, so the annotations (strings, ``from __future__ import annotations``) resolve in the
  class's own module namespace (``vars(sys.modules[cls.__module__])``);
* class names are NOT unique across ``ffn_async.models``: ``merchant.Outbound`` and
  ``fulfiller.Outbound`` are different classes. Anything keyed by class (compiled decoders,
  caches) must key by the class object or by module and name, never by ``__name__`` alone;
* slotted attrs classes, ``metadata["wire"]`` for wire names :func:`to_camel` cannot derive,
  constraint metadata (``min_length``, ``max_length``, ``min_items``, ``max_items``,
  ``minimum``, ``maximum``, ``pattern``, ``choices``), ``EnumType | str`` enum fields,
  ``Decimal`` numbers, aware datetimes, and :data:`UNSET` defaults in PATCH (``Update*``) models.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["UNSET", "is_request_name", "is_set", "to_camel", "to_snake"]


class _Unset:
    """Type of :data:`UNSET`; one instance exists."""

    __slots__ = ()
    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Final[Any] = _Unset()
"""Default of every field of a PATCH model (``Update*``): "leave this field unchanged".

A field left at ``UNSET`` is omitted from the request body; a field set to ``None`` is sent as
JSON ``null`` (clear the value). It is typed ``Any`` so that fields can be declared with their
natural type (``str | None``) and ``mypy --strict`` still accepts the default.
"""


def is_set(value: object) -> bool:
    """Whether a PATCH field holds a value (``None`` included) rather than :data:`UNSET`."""
    return value is not UNSET


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def to_snake(wire: str) -> str:
    """``merchantOutboundNumber`` -> ``merchant_outbound_number`` (leading ``_`` dropped)."""
    return _CAMEL_BOUNDARY.sub("_", wire.lstrip("_")).lower()


def to_camel(attribute: str) -> str:
    """The default wire name of an attribute: ``merchant_outbound_number`` -> ``merchantOutboundNumber``.

    Fields whose wire name differs (``_page``, keywords such as ``from``) record it in their
    ``metadata["wire"]``.
    """
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_request_name(name: str) -> bool:
    """Whether a model named ``name`` is a request body (its constraints are checked on encode)."""
    return name.endswith("Request") or name.startswith(("Create", "Update"))
