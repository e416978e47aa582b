"""A small OData v4 ``$filter`` evaluator: tokenizer, recursive-descent parser, predicate.

Supported: ``eq ne gt ge lt le``, ``and or not``, parentheses, string literals with ``''``
escaping, numbers, ``true false null``, unquoted date-times (``2024-05-01T10:00:00Z``), paths
into nested objects (``modificationInfo/createdAt``), ``contains``, ``startswith``,
``endswith``, and lambdas ``items/any(i: i/jfsku eq 'X')`` / ``all``. Date-time strings compare
as instants, so ``+00:00`` and ``Z`` agree. Anything else raises :class:`FilterError`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["FilterError", "Predicate", "compile_filter", "resolve_path"]

Predicate = Callable[[Mapping[str, Any]], bool]
_Value = Callable[[Mapping[str, Any]], Any]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<punct>[(),:])
    )""",
    re.VERBOSE,
)
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_FUNCTIONS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda a, b: b in a,
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
}
_KEYWORDS = {"and", "or", "not", "true", "false", "null", *_COMPARISONS}


class FilterError(ValueError):
    """The ``$filter`` expression is malformed or uses something the fake does not support."""


def compile_filter(expression: str) -> Predicate:
    """Parse ``expression`` once into a predicate over JSON objects."""
    parser = _Parser(_tokenize(expression))
    predicate = parser.expression()
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()[1]!r} in $filter")  # type: ignore[index]
    return lambda obj: bool(predicate({"$it": obj}))


def resolve_path(obj: Any, path: str) -> Any:
    """The value at ``a/b/c`` inside nested dicts, or ``None`` where a step is missing."""
    for step in path.split("/"):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(step)
    return obj


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"cannot read $filter at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _either(a: _Value, b: _Value) -> _Value:
    return lambda scope: bool(a(scope)) or bool(b(scope))


def _both(a: _Value, b: _Value) -> _Value:
    return lambda scope: bool(a(scope)) and bool(b(scope))


def _comparable(value: Any) -> Any:
    """Date-time strings become aware datetimes so that they compare as instants."""
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


class _Parser:
    """Grammar: or_expr := and_expr ('or' and_expr)*; and_expr := unary ('and' unary)*;
    unary := 'not' unary | comparison; comparison := operand (op operand)?;
    operand := literal | path | path '/any|all' '(' var ':' or_expr ')' | func '(' args ')'
    | '(' or_expr ')'.

    Values are functions of a scope mapping (``$it`` is the object, lambda variables the rest).
    """

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("$filter ends too early")
        if value is not None and token[1] != value:
            raise FilterError(f"expected {value!r} in $filter, found {token[1]!r}")
        self.index += 1
        return token

    def accept(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] == word:
            self.index += 1
            return True
        return False

    def expression(self) -> _Value:
        left = self.conjunction()
        while self.accept("or"):
            left = _either(left, self.conjunction())
        return left

    def conjunction(self) -> _Value:
        left = self.unary()
        while self.accept("and"):
            left = _both(left, self.unary())
        return left

    def unary(self) -> _Value:
        if self.accept("not"):
            inner = self.unary()
            return lambda s: not inner(s)
        return self.comparison()

    def comparison(self) -> _Value:
        left = self.operand()
        token = self.peek()
        if token is None or token[0] != "name" or token[1] not in _COMPARISONS:
            return left
        self.index += 1
        compare, right = _COMPARISONS[token[1]], self.operand()
        equality = token[1] in ("eq", "ne")

        def evaluate(scope: Mapping[str, Any]) -> bool:
            a, b = _comparable(left(scope)), _comparable(right(scope))
            if equality:
                return bool(compare(a, b))
            if a is None or b is None:  # ordering against null is false, as in OData
                return False
            try:
                return bool(compare(a, b))
            except TypeError:
                return False

        return evaluate

    def operand(self) -> _Value:
        kind, text = self.take()
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
            return lambda s: value
        if kind == "datetime":
            return lambda s: text
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda s: number
        if text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind != "name" or text in _KEYWORDS - {"true", "false", "null"}:
            raise FilterError(f"unexpected {text!r} in $filter")
        constants = {"true": True, "false": False, "null": None}
        if text in constants:
            constant = constants[text]
            return lambda s: constant
        if text in _FUNCTIONS:
            return self.function(text)
        head, _, last = text.rpartition("/")
        if last in ("any", "all") and head and self.peek() == ("punct", "("):
            return self.lambda_(head, last)
        return self.path(text)

    def function(self, name: str) -> _Value:
        self.take("(")
        first = self.expression()
        self.take(",")
        second = self.expression()
        self.take(")")
        test = _FUNCTIONS[name]

        def call(scope: Mapping[str, Any]) -> bool:
            a, b = first(scope), second(scope)
            return isinstance(a, str) and isinstance(b, str) and test(a, b)

        return call

    def lambda_(self, collection_path: str, quantifier: str) -> _Value:
        self.take("(")
        collection = self.path(collection_path)
        variable = self.take()[1]
        self.take(":")
        body = self.expression()
        self.take(")")
        check = any if quantifier == "any" else all

        def evaluate(scope: Mapping[str, Any]) -> bool:
            items = collection(scope)
            if not isinstance(items, list):
                return False
            return check(bool(body({**scope, variable: item})) for item in items)

        return evaluate

    def path(self, text: str) -> _Value:
        root, _, rest = text.partition("/")

        def resolve(scope: Mapping[str, Any]) -> Any:
            if root in scope:  # a lambda variable
                return resolve_path(scope[root], rest) if rest else scope[root]
            return resolve_path(scope["$it"], text)

        return resolve
