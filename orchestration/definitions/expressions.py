"""Conditions and `{{ placeholders }}`: a safe expression language over variables.

Expressions use simpleeval (Python-like syntax: `amount > 1000 and not urgent`,
`status in ['a', 'b']`, `len(items)`), never `eval`. They are parsed when a
definition is saved, so a typo is a validation error and not a failed instance.
"""

from __future__ import annotations

import ast
import operator
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import simpleeval

FUNCTIONS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
}

# Names an expression may use without declaring them.
CONSTANTS = frozenset({"True", "False", "None", "true", "false", "null"})

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Expr, ast.Name, ast.Load, ast.Constant, ast.UnaryOp, ast.BinOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Subscript,
    ast.Attribute, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.JoinedStr,
    ast.FormattedValue, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)

# Budgets: an expression is short and shallow, and what it computes stays small.
# Integers are capped in bits (10**5000 would take seconds to turn into text).
# Every other value is capped by its size written out (size(): a text's
# characters, a container's items counted all the way down, so
# [[1]*100000]*100000 is 10^10, not the 100,000 its outer length says): each
# result is checked before it is built where it could be large (repetition,
# concatenation, a list or dict written out, turning a value into text), and
# all of an evaluation's results together have one cap (MAX_WORK).
MAX_LENGTH = 2000
MAX_DEPTH = 30
MAX_INT_BITS = 1024
MAX_SIZE = simpleeval.MAX_STRING_LENGTH
MAX_WORK = 10 * MAX_SIZE


class ExpressionError(ValueError):
    """The text is not an expression this language accepts."""


def parse(text: str) -> ast.expr:
    """Parse one expression; raise ExpressionError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(text.strip(), mode="exec")
    except SyntaxError as exc:
        raise ExpressionError(f"{exc.msg} at column {exc.offset or 0}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels") from None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Expr):
        raise ExpressionError("must be a single expression, not a statement")
    node = module.body[0].value
    if _depth(node) > MAX_DEPTH:
        raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels")
    for child in ast.walk(node):
        if isinstance(child, ast.FormattedValue) and (
            child.format_spec is not None or child.conversion != -1
        ):
            raise ExpressionError("format specs and conversions in f-strings are not allowed")
        if not isinstance(child, _ALLOWED_NODES):
            raise ExpressionError(f"{type(child).__name__} is not allowed")
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and not (
            isinstance(child.func, ast.Name) and child.func.id in FUNCTIONS
        ):
            called = child.func.id if isinstance(child.func, ast.Name) else "this"
            raise ExpressionError(f"calling {called!r} is not allowed")
        if isinstance(child, ast.Attribute) and child.attr.startswith("_"):
            raise ExpressionError(f"attribute {child.attr!r} is not allowed")
    return node


def _depth(node: ast.AST) -> int:
    """Nesting depth, counted without recursion (the tree may be very deep)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(current))
    return deepest


def size(value: Any, memo: dict[int, int] | None = None) -> int:
    """How large `value` is written out: a text's characters, 1 for a number
    or a constant, a container's items counted all the way down (one shared
    item counted each time it appears, its own size computed once)."""
    kind = type(value)
    if kind is str:
        return max(1, len(value))
    if kind not in _CONTAINERS:
        return 1
    memo = {} if memo is None else memo
    known = memo.get(id(value))
    if known is not None:
        return known
    total = 1
    # A loop rather than a call per item: a list of 100,000 numbers is common.
    for item in [*value.keys(), *value.values()] if kind is dict else value:
        inner = type(item)
        if inner is str:
            total += len(item) or 1
        elif inner in _CONTAINERS:
            total += size(item, memo)
        else:
            total += 1
    memo[id(value)] = total
    return total


_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})


_WORK: ContextVar[list[int] | None] = ContextVar("expression_work", default=None)


def _spend(units: int) -> None:
    """Count a result's size against the value cap and the evaluation's budget;
    refuse before it is built."""
    if units > MAX_SIZE:
        raise ExpressionError(f"a value larger than {MAX_SIZE} (its size written out: {units})")
    work = _WORK.get()
    if work is not None:
        work[0] += units
        if work[0] > MAX_WORK:
            raise ExpressionError(f"more than {MAX_WORK} units of work in one expression")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise ExpressionError(f"an integer larger than {MAX_INT_BITS} bits")
    elif isinstance(value, str | list | tuple | dict | set | frozenset):
        _spend(size(value))
    return value


def _repeat(left: Any, right: Any) -> Any:
    """`*`: a text or a list repeated is counted, and refused, before it is built."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            _spend(max(0, times) * (size(seq) - (0 if isinstance(seq, str) else 1)) + 1)
            return operator.mul(left, right)
    return _bounded(operator.mul(left, right))


def _join(left: Any, right: Any) -> Any:
    """`+` of two texts or lists is counted, and refused, before it is built."""
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        _spend(size(left) + size(right))
        return operator.add(left, right)
    return _bounded(operator.add(left, right))


def _as_text(value: Any) -> str:
    _spend(size(value))
    return _text(value)


def _power(base: Any, exponent: Any) -> Any:
    # Refused before computing: the check after would come too late.
    integers = isinstance(base, int) and isinstance(exponent, int)
    if integers and abs(base) > 1 and exponent * (abs(base).bit_length() - 1) > MAX_INT_BITS:
        raise ExpressionError(f"an integer larger than {MAX_INT_BITS} bits")
    return base**exponent


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise ExpressionError("% formatting is not allowed")
    return left % right


def _shift(operation: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def shift(left: Any, right: Any) -> Any:
        if isinstance(right, int) and right > MAX_INT_BITS:
            raise ExpressionError(f"an integer larger than {MAX_INT_BITS} bits")
        return operation(left, right)

    return shift


def _checked(operation: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        return _bounded(operation(*args))

    return run


OPERATORS = {kind: _checked(operation) for kind, operation in simpleeval.DEFAULT_OPERATORS.items()}
OPERATORS[ast.Mult] = _repeat
OPERATORS[ast.Add] = _join
OPERATORS[ast.Pow] = _checked(_power)
OPERATORS[ast.Mod] = _checked(_modulo)
OPERATORS[ast.LShift] = _checked(_shift(operator.lshift))
OPERATORS[ast.RShift] = _checked(_shift(operator.rshift))
FUNCTIONS["str"] = _as_text
FUNCTIONS = {name: _checked(function) for name, function in FUNCTIONS.items()}


class _Evaluator(simpleeval.EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval's evaluator with every literal and every piece of text built
    from a value counted (see size())."""

    def _eval_list(self, node: ast.List) -> Any:
        return _bounded(super()._eval_list(node))

    def _eval_tuple(self, node: ast.Tuple) -> Any:
        return _bounded(super()._eval_tuple(node))

    def _eval_dict(self, node: ast.Dict) -> Any:
        return _bounded(super()._eval_dict(node))

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        return _as_text(self._eval(node.value))  # no format specs: parse() refuses them


def names(node: ast.expr) -> set[str]:
    """Root variable names the expression reads (function names excluded)."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {
        n.id
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and id(n) not in called and n.id not in CONSTANTS
    }


def placeholders(template: str) -> Iterator[str]:
    """The expression text inside each `{{ ... }}` of a template string."""
    for match in PLACEHOLDER.finditer(template):
        yield match.group(1)


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate an expression against variables; raise ExpressionError on failure."""
    node = parse(text)
    evaluator = _Evaluator(
        operators=OPERATORS,
        names={"true": True, "false": False, "null": None, **variables},
        functions=FUNCTIONS,
    )
    outer = _WORK.get()
    token = _WORK.set([0]) if outer is None else None
    try:
        return _bounded(evaluator.eval(text.strip(), previously_parsed=node))
    except simpleeval.NameNotDefined as exc:
        raise ExpressionError(f"unknown variable {exc.name!r}") from None
    except ExpressionError:
        raise
    except Exception as exc:  # simpleeval raises many types; all mean "cannot evaluate"
        raise ExpressionError(str(exc)) from None
    finally:
        if token is not None:
            _WORK.reset(token)


def render(
    template: str, variables: Mapping[str, Any], *, escape: Callable[[str], str] | None = None
) -> str:
    """Replace each `{{ expr }}` by its evaluated value (passed through `escape`).
    The whole rendering shares one budget, and the text made has the cap of
    any value (MAX_SIZE)."""
    made = [0]

    def value(match: re.Match[str]) -> str:
        text = _as_text(evaluate(match.group(1), variables))
        made[0] += len(text)
        if made[0] > MAX_SIZE:
            raise ExpressionError(f"the rendered text is longer than {MAX_SIZE} characters")
        return escape(text) if escape else text

    token = _WORK.set([0]) if _WORK.get() is None else None
    try:
        return PLACEHOLDER.sub(value, template)
    finally:
        if token is not None:
            _WORK.reset(token)


def _text(value: Any) -> str:
    try:
        return str(value)
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. an int of 5,000 digits
        raise ExpressionError(f"the value cannot be shown as text: {exc}") from None
