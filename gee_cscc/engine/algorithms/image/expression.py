"""``Image.parseExpression`` (what ``ee.Image.expression`` sends): the expression language of
Earth Engine's guide "Image expressions".

The text is tokenized and parsed here by a small precedence-climbing parser (no ``eval``):
numbers, strings, ``+ - * / % **``, ``< <= > >= == !=``, ``&& || ! ^`` (``^``: xor), the ternary
``c ? a : b``, parentheses, ``b(0)``/``b('name')``/``b(1, 'name')``/``b()`` for the bands
of the default image, variables (images passed by name), ``image.band`` and
``image[0]``/``image['band']``, the math functions listed in :data:`FUNCTIONS`, and a final
``name = expression`` that names a one-band result.

Every operator is the Earth Engine algorithm of the same meaning (``+`` is ``Image.add``,
``/`` is ``Image.divide`` …), so band pairing, masks, pixel types and integer division are
those of the operators; ``c ? a : b`` takes ``a`` where ``c`` is non-zero, else ``b``, and is
masked where ``c`` or the value taken is masked. As the guide says, dividing two integers
discards the remainder (``10 / 20`` is 0; Earth Engine's integer division truncates toward 0). ``Image.parseExpression`` returns an
algorithm (a callable taking the images named in ``vars``) that the client then applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core import registry
from ...core.arguments import as_image
from ...core.registry import algorithm
from ...core.values import Image, PixelData, constant_band, pointwise, promote
from ...errors import EEError
from ..bands import binary_image_op, match_bands

__all__ = ["FUNCTIONS", "ExpressionParser", "parse_expression"]

_UNARY_FUNCS = (
    "abs acos asin atan cbrt ceil cos cosh exp floor log log10 round signum sin sinh sqrt tan tanh"
).split()
_BINARY_FUNCS = {"min": "Image.min", "max": "Image.max", "pow": "Image.pow"}
_BINARY_FUNCS.update({"atan2": "Image.atan2", "hypot": "Image.hypot"})
#: JavaScript ``Math`` names (the API reference: "a subset of JavaScript Math functions").
_JS_NAMES = {"sign": "signum"}
#: The functions an expression may call (besides ``b()``), by name → number of arguments.
FUNCTIONS = {
    **{f: 1 for f in _UNARY_FUNCS},
    **{f: 1 for f in _JS_NAMES},
    **{f: 2 for f in _BINARY_FUNCS},
}

_BINARY_OPS = {
    "+": "Image.add",
    "-": "Image.subtract",
    "*": "Image.multiply",
    "/": "Image.divide",
    "%": "Image.mod",
    "**": "Image.pow",
    "<": "Image.lt",
    "<=": "Image.lte",
    ">": "Image.gt",
    ">=": "Image.gte",
    "==": "Image.eq",
    "!=": "Image.neq",
    "&&": "Image.and",
    "||": "Image.or",
}
# Binding powers (higher binds tighter), in JavaScript's order (the guide's operators);
# ** is right-associative and binds tighter than a unary minus.
_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    "^": 3,
    "==": 4,
    "!=": 4,
    "<": 5,
    "<=": 5,
    ">": 5,
    ">=": 5,
    "+": 6,
    "-": 6,
    "*": 7,
    "/": 7,
    "%": 7,
    "**": 9,
}
_UNARY_POWER = 8

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|==|!=|&&|\|\||[-+*/%<>!?:(),.\[\]=^]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise EEError(f"Expression parse error at position {pos}: '{text[pos : pos + 10]}'.")
        kind = m.lastgroup or "op"
        out.append((kind, m.group(kind)))
        pos = m.end()
    out.append(("end", ""))
    return out


class ExpressionParser:
    """Parses and evaluates at once (values are images or Python numbers/strings)."""

    def __init__(self, text: str, images: dict[str, Image], default: str, free_as_bands: bool):
        self.toks = _tokens(text)
        self.i = 0
        self.images = images
        self.default = default
        self.free_as_bands = free_as_bands

    # --- token helpers ---
    def peek(self) -> tuple[str, str]:
        return self.toks[self.i]

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            shown = tok[1] or "end of expression"
            raise EEError(f"Expression parse error: expected '{value}', found '{shown}'.")
        self.i += 1
        return tok

    # --- grammar ---
    def statement(self) -> Any:
        name = None
        if self.peek()[0] == "name" and self.toks[self.i + 1][1] == "=":
            name = self.take()[1]
            self.take("=")
        value = self.ternary()
        if self.peek()[0] != "end":
            raise EEError(f"Expression parse error: unexpected '{self.peek()[1]}'.")
        return self.finish(value, name)

    # --- what the operators do (images here; numbers in :class:`_NumberParser`) ---
    def finish(self, value: Any, name: str | None) -> Any:
        img = _image(value)
        if name is not None:
            if len(img.bands) != 1:
                raise EEError(
                    f"Expression: can't assign the name '{name}' to {len(img.bands)} bands."
                )
            img = img.with_bands([img.bands[0].replace(name=name)])
        return img

    def ternary(self) -> Any:
        cond = self.binary(0)
        if self.peek()[1] != "?":
            return cond
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return self.conditional(cond, yes, no)

    def conditional(self, cond: Any, yes: Any, no: Any) -> Any:
        return _conditional(_image(cond), _image(yes), _image(no))

    def apply(self, op: str, left: Any, right: Any) -> Any:
        if op == "^":
            return _xor(_image(left), _image(right))
        return registry.call(_BINARY_OPS[op], {"image1": _image(left), "image2": _image(right)})

    def negate(self, v: Any) -> Any:
        if isinstance(v, (int, float)):
            return -v
        return registry.call("Image.multiply", {"image1": v, "image2": -1})

    def logical_not(self, v: Any) -> Any:
        return registry.call("Image.not", {"value": _image(v)})

    def select(self, value: Any, selectors: list[Any]) -> Any:
        return _select(value, selectors)

    def function(self, name: str, args: list[Any]) -> Any:
        if len(args) == 1:
            algo = f"Image.{_JS_NAMES.get(name, name)}"
            return registry.call(algo, {"value": _image(args[0])})
        return registry.call(
            _BINARY_FUNCS[name], {"image1": _image(args[0]), "image2": _image(args[1])}
        )

    def binary(self, min_power: int) -> Any:
        left = self.unary()
        while True:
            op = self.peek()[1] if self.peek()[0] == "op" else None
            power = _PRECEDENCE.get(op or "")
            if power is None or power <= min_power:
                return left
            self.take()
            right = self.binary(power - 1 if op == "**" else power)
            left = self.apply(op, left, right)

    def unary(self) -> Any:
        tok = self.peek()
        if tok == ("op", "-"):
            self.take()
            return self.negate(self.binary(_UNARY_POWER))
        if tok == ("op", "+"):
            self.take()
            return self.binary(_UNARY_POWER)
        if tok == ("op", "!"):
            self.take()
            return self.logical_not(self.binary(_UNARY_POWER))
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while True:
            tok = self.peek()
            if tok == ("op", "."):
                self.take()
                band = self.take()
                if band[0] != "name":
                    raise EEError("Expression parse error: expected a band name after '.'.")
                value = self.select(value, [band[1]])
            elif tok == ("op", "["):
                self.take()
                value = self.select(value, self.arguments("]"))
            else:
                return value

    def arguments(self, close: str) -> list[Any]:
        args: list[Any] = []
        if self.peek()[1] == close:
            self.take()
            return args
        while True:
            args.append(self.ternary())
            if self.peek()[1] == ",":
                self.take()
                continue
            self.take(close)
            return args

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            v = float(text)
            return int(v) if re.fullmatch(r"\d+", text) else v
        if kind == "str":
            return text[1:-1]
        if kind == "op" and text == "(":
            value = self.ternary()
            self.take(")")
            return value
        if kind == "name":
            if self.peek()[1] == "(":
                self.take()
                return self.call(text, self.arguments(")"))
            return self.variable(text)
        raise EEError(f"Expression parse error: unexpected '{text or 'end of expression'}'.")

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "b":
            img = self.images.get(self.default)
            if img is None:
                raise EEError("Expression: b() needs the default image, which is not given.")
            return img if not args else self.select(img, args)
        n = FUNCTIONS.get(name)
        if n is None:
            raise EEError(f"Expression: Unknown function '{name}'.")
        if len(args) != n:
            raise EEError(f"Expression: {name}() takes {n} argument(s), got {len(args)}.")
        return self.function(name, args)

    def variable(self, name: str) -> Any:
        if name in self.images:
            return self.images[name]
        default = self.images.get(self.default)
        if self.free_as_bands and default is not None and name in default.band_names:
            return _select(default, [name])
        raise EEError(f"Expression: Variable '{name}' is not defined.")


def _xor(a: Image, b: Image) -> Image:
    """Logical exclusive or (the guide's ``^``): 1 where exactly one operand is non-zero."""
    return binary_image_op(
        a, b, "expression", lambda x, y: ((x != 0) != (y != 0)).astype(float), dtype=_uint8
    )


def _uint8(a: str, b: str) -> str:
    return "uint8"


def _conditional(cond: Image, yes: Image, no: Image) -> Image:
    """``cond ? yes : no`` per pixel; masked where the condition or the chosen value is."""
    bands = []
    for y, n, name in match_bands(yes, no, "expression"):
        c = cond.bands[len(bands) if len(cond.bands) > 1 else 0]

        def op(pc: PixelData, py: PixelData, pn: PixelData) -> PixelData:
            take = pc[0] != 0
            return np.where(take, py[0], pn[0]), pc[1] & np.where(take, py[1], pn[1])

        bands.append(pointwise([c, y, n], op, name=name, dtype=promote(y.dtype, n.dtype)))
    if len(cond.bands) not in (1, len(bands)):
        raise EEError(
            f"Expression: the condition has {len(cond.bands)} bands; expected 1 or {len(bands)}."
        )
    return Image(bands, {})


def _image(value: Any) -> Image:
    if isinstance(value, str):
        raise EEError(f"Expression: a string ('{value}') is not a number or an image.")
    if isinstance(value, float):  # a literal written with a point is a double (1.0 * x)
        return Image([constant_band(value, dtype="float64")])
    return as_image(value, "Image.parseExpression")


def _select(value: Any, selectors: list[Any]) -> Image:
    if not isinstance(value, Image):
        raise EEError("Expression: only images have bands to select.")
    for s in selectors:
        if not isinstance(s, (str, int)) or isinstance(s, bool):
            raise EEError(f"Expression: invalid band selector {s!r}.")
    return registry.call("Image.select", {"input": value, "bandSelectors": list(selectors)})


def parse_expression(
    expression: str, arg_name: str, names: list[str], free_as_bands: bool = False
) -> Callable[..., Image]:
    """The algorithm of an expression: called with the images named in ``names``."""
    _tokens(expression)  # syntax errors surface when the expression is parsed

    def run(**images: Any) -> Image:
        unknown = set(images) - set(names)
        if unknown:
            raise EEError(f"Expression: unexpected arguments {sorted(unknown)}.")
        imgs = {k: _image(v) for k, v in images.items()}
        return ExpressionParser(expression, imgs, arg_name, free_as_bands).statement()

    return run


@algorithm("Image.parseExpression")
def parse_expression_algo(
    expression: str,
    argName: str,  # noqa: N803
    vars: list,  # noqa: A002
    mapFreeVarsToDefaultImageBands: Any = False,  # noqa: N803
) -> Callable[..., Image]:
    return parse_expression(
        expression, argName, [str(v) for v in vars], mapFreeVarsToDefaultImageBands
    )
