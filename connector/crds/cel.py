"""A small, strict evaluator for the common subset of CEL used in `x-kubernetes-validations`.

Supported: literals (int, double, string, bool, null, lists, maps), `self` and `oldSelf`, field
selection and indexing, `has(a.b)`, `!`, unary `-`, `* / % + -`, comparisons, `==`, `!=`, `in`,
`&&` / `||` (with CEL's error absorption), `? :`, `size()` (function and method), string methods
`startsWith`, `endsWith`, `contains`, `matches`, `lowerAscii`, `upperAscii`, `trim`, `split`,
`join`, `indexOf`, conversions
`int()`, `double()`, `string()`, the Kubernetes `isIP()`/`isCIDR()` functions (their rules:
no zones, no IPv4-mapped IPv6 form, no leading zeros), and the macros `all`, `exists`,
`exists_one`, `map`, `filter`. `message` evaluates a `messageExpression`.

`evaluate` returns True/False, or None when the rule is outside this subset or cannot be evaluated
on the given value; callers skip such rules, so an unsupported rule never rejects a valid object.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Node = tuple[Any, ...]


class CelError(Exception):
    """Parse or evaluation failure: the rule is skipped."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>0x[0-9a-fA-F]+|\d+)(?P<unsigned>[uU])?
  | (?P<string>[rR]?(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
""",
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(text: str) -> str:
    raw = text[0] in "rR"
    body = text[2:-1] if raw else text[1:-1]
    if raw:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _tokenize(source: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise CelError(f"unexpected character {source[pos]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "unsigned":
            kind = "int"
        text = match.group(0)
        if kind == "ws":
            continue
        if kind == "float":
            tokens.append(("lit", float(text)))
        elif kind == "int":
            tokens.append(("lit", int(match.group("int"), 0)))
        elif kind == "string":
            tokens.append(("lit", _unquote(text)))
        elif kind == "ident":
            if text in ("true", "false"):
                tokens.append(("lit", text == "true"))
            elif text == "null":
                tokens.append(("lit", None))
            elif text == "in":
                tokens.append(("op", "in"))
            else:
                tokens.append(("ident", text))
        else:
            tokens.append(("op", text))
    tokens.append(("end", None))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, Any]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.pos += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise CelError(f"expected {op!r}, found {self.peek()[1]!r}")

    def parse(self) -> Node:
        node = self.expr()
        if self.peek()[0] != "end":
            raise CelError(f"unexpected {self.peek()[1]!r}")
        return node

    def expr(self) -> Node:
        condition = self.binary(0)
        if self.accept("?"):
            then = self.expr()
            self.expect(":")
            return ("cond", condition, then, self.expr())
        return condition

    LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("==", "!=", "<", "<=", ">", ">=", "in"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            kind, value = self.peek()
            if kind == "op" and value in self.LEVELS[level]:
                self.take()
                left = ("bin", value, left, self.binary(level + 1))
            else:
                return left

    def unary(self) -> Node:
        if self.accept("!"):
            return ("not", self.unary())
        if self.accept("-"):
            return ("neg", self.unary())
        return self.member()

    def args(self) -> list[Node]:
        args: list[Node] = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.expr())
            if self.accept(")"):
                return args
            self.expect(",")

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("."):
                kind, name = self.take()
                if kind != "ident":
                    raise CelError("expected a field name")
                node = ("call", name, node, self.args()) if self.accept("(") else ("select", node, name)
            elif self.accept("["):
                index = self.expr()
                self.expect("]")
                node = ("index", node, index)
            else:
                return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "lit":
            return ("lit", value)
        if kind == "ident":
            if self.accept("("):
                return ("call", value, None, self.args())
            return ("ident", value)
        if kind == "op" and value == "(":
            node = self.expr()
            self.expect(")")
            return node
        if kind == "op" and value == "[":
            items: list[Node] = []
            while not self.accept("]"):
                items.append(self.expr())
                if not self.accept(","):
                    self.expect("]")
                    break
            return ("list", items)
        if kind == "op" and value == "{":
            entries: list[tuple[Node, Node]] = []
            while not self.accept("}"):
                key = self.expr()
                self.expect(":")
                entries.append((key, self.expr()))
                if not self.accept(","):
                    self.expect("}")
                    break
            return ("map", entries)
        raise CelError(f"unexpected {value!r}")


@lru_cache(maxsize=1024)
def compile_rule(source: str) -> Node:
    return _Parser(source).parse()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_same(left: Any, right: Any) -> None:
    if _is_number(left) and _is_number(right):
        return
    if type(left) is not type(right):
        raise CelError("no such overload")


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return left == right and (_is_number(left) == _is_number(right))
    if op == "!=":
        return not _binary("==", left, right)
    if op == "in":
        if isinstance(right, (list, dict)):
            return left in right
        raise CelError("in needs a list or map")
    _check_same(left, right)
    if op in ("<", "<=", ">", ">="):
        if not isinstance(left, (int, float, str)):
            raise CelError("no such overload")
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    if op == "+":
        if isinstance(left, (str, list)) or _is_number(left):
            return left + right
        raise CelError("no such overload")
    if not _is_number(left):
        raise CelError("no such overload")
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        raise CelError("division by zero")
    if op == "/":
        return int(left / right) if isinstance(left, int) and isinstance(right, int) else left / right
    if op == "%":
        if not (isinstance(left, int) and isinstance(right, int)):
            raise CelError("no such overload")
        return int(left - right * int(left / right))
    raise CelError(f"unknown operator {op}")


def _size(value: Any) -> int:
    if isinstance(value, (str, list, dict, bytes)):
        return len(value)
    raise CelError("size of non-collection")


def _is_ip(value: Any) -> bool:
    """Kubernetes `isIP`: an IPv4 or IPv6 address; no zone, no IPv4-mapped IPv6 form, no leading
    zeros in IPv4 octets."""
    if not isinstance(value, str):
        raise CelError("isIP() needs a string")
    if "%" in value:
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None)


def _is_cidr(value: Any) -> bool:
    """Kubernetes `isCIDR`: `address/prefix` with `isIP` true of the address and a decimal prefix
    length (no leading zero) within the family's; host bits may be set."""
    if not isinstance(value, str):
        raise CelError("isCIDR() needs a string")
    address, slash, prefix = value.partition("/")
    if not slash or not _is_ip(address) or not prefix.isdigit() or not prefix.isascii():
        return False
    if len(prefix) > 1 and prefix[0] == "0":
        return False
    return int(prefix) <= ipaddress.ip_address(address).max_prefixlen


_METHODS: dict[str, Callable[..., Any]] = {
    "size": _size,
    "startsWith": lambda s, p: s.startswith(p),
    "endsWith": lambda s, p: s.endswith(p),
    "contains": lambda s, p: p in s,
    "matches": lambda s, p: re.search(p, s) is not None,
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": lambda s, sep: s.split(sep),
    "join": lambda items, sep="": sep.join(items),
    "indexOf": lambda s, sub: s.find(sub),
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "size": _size,
    "int": lambda v: int(v),
    "double": lambda v: float(v),
    "string": lambda v: v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v),
    "isIP": _is_ip,
    "isCIDR": _is_cidr,
}
_MACROS = ("all", "exists", "exists_one", "map", "filter")


class _Evaluator:
    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables

    def run(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ident":
            if node[1] not in self.variables:
                raise CelError(f"undeclared reference {node[1]}")
            return self.variables[node[1]]
        if kind == "select":
            target = self.run(node[1])
            if not isinstance(target, dict) or node[2] not in target:
                raise CelError(f"no such key: {node[2]}")
            return target[node[2]]
        if kind == "index":
            target, index = self.run(node[1]), self.run(node[2])
            try:
                if isinstance(target, list) and not isinstance(index, int):
                    raise CelError("bad index")
                return target[index]
            except (KeyError, IndexError, TypeError) as exc:
                raise CelError("no such key") from exc
        if kind == "list":
            return [self.run(item) for item in node[1]]
        if kind == "map":
            return {self.run(k): self.run(v) for k, v in node[1]}
        if kind == "not":
            value = self.run(node[1])
            if not isinstance(value, bool):
                raise CelError("! on non-bool")
            return not value
        if kind == "neg":
            value = self.run(node[1])
            if not _is_number(value):
                raise CelError("- on non-number")
            return -value
        if kind == "cond":
            condition = self.run(node[1])
            if not isinstance(condition, bool):
                raise CelError("condition is not a bool")
            return self.run(node[2] if condition else node[3])
        if kind == "bin":
            return self.binary(node[1], node[2], node[3])
        if kind == "call":
            return self.call(node[1], node[2], node[3])
        raise CelError(f"unknown node {kind}")

    def logical(self, op: str, left_node: Node, right_node: Node) -> bool:
        decisive = op == "||"
        try:
            left = self.run(left_node)
            if not isinstance(left, bool):
                raise CelError("logical operand is not a bool")
        except CelError:
            if self.run(right_node) is decisive:
                return op == "||"
            raise
        if left is decisive:
            return decisive
        right = self.run(right_node)
        if not isinstance(right, bool):
            raise CelError("logical operand is not a bool")
        return bool(right)

    def binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        if op in ("&&", "||"):
            return self.logical(op, left_node, right_node)
        return _binary(op, self.run(left_node), self.run(right_node))

    def call(self, name: str, target: Node | None, args: list[Node]) -> Any:
        if name == "has" and target is None:
            if len(args) != 1 or args[0][0] != "select":
                raise CelError("has() needs a field selection")
            holder = self.run(args[0][1])
            if not isinstance(holder, dict):
                raise CelError("has() on non-object")
            return args[0][2] in holder
        if target is not None and name in _MACROS:
            return self.macro(name, self.run(target), args)
        values = [self.run(arg) for arg in args]
        try:
            if target is not None:
                method = _METHODS.get(name)
                if method is None:
                    raise CelError(f"unknown method {name}")
                return method(self.run(target), *values)
            function = _FUNCTIONS.get(name)
            if function is None:
                raise CelError(f"unknown function {name}")
            return function(*values)
        except (TypeError, ValueError, AttributeError, re.error) as exc:
            raise CelError(str(exc)) from exc

    def macro(self, name: str, collection: Any, args: list[Node]) -> Any:
        if len(args) != 2 or args[0][0] != "ident":
            raise CelError(f"{name}() needs a variable and an expression")
        variable = args[0][1]
        if isinstance(collection, dict):
            elements = list(collection)
        elif isinstance(collection, list):
            elements = collection
        else:
            raise CelError(f"{name}() on non-collection")
        results = []
        for element in elements:
            scoped = _Evaluator({**self.variables, variable: element})
            results.append((element, scoped.run(args[1])))
        if name == "map":
            return [r for _, r in results]
        if any(not isinstance(r, bool) for _, r in results):
            raise CelError(f"{name}() predicate is not a bool")
        if name == "all":
            return all(r for _, r in results)
        if name == "exists":
            return any(r for _, r in results)
        if name == "exists_one":
            return sum(1 for _, r in results if r) == 1
        return [e for e, r in results if r]


def value_of(expression: str, value: Any, old: Any = None) -> Any:
    """The value of `expression` over `self` (and `oldSelf`); raises CelError when it cannot be
    evaluated."""
    try:
        tree = compile_rule(expression)
        variables = {"self": value}
        if old is not None:
            variables["oldSelf"] = old
        return _Evaluator(variables).run(tree)
    except RecursionError as exc:
        raise CelError("expression too deep") from exc


def evaluate(rule: str, value: Any, old: Any = None) -> bool | None:
    """True/False for a rule over `self` (and `oldSelf`), None when it cannot be evaluated."""
    try:
        result = value_of(rule, value, old)
    except CelError:
        return None
    return result if isinstance(result, bool) else None


def message(expression: str, value: Any, old: Any = None) -> str | None:
    """A `messageExpression`'s message: its string value, None (the API server then uses `message`
    or its default) when it fails, is not a string, is empty or spans lines."""
    try:
        result = value_of(expression, value, old)
    except CelError:
        return None
    if not isinstance(result, str) or not result.strip() or "\n" in result:
        return None
    return result
