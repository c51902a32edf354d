"""``Number.*`` algorithms: arithmetic, comparisons, math functions, casts and formatting.

Numbers are plain Python ``int`` and ``float``. Integer inputs stay integers where Earth
Engine's result is integral (``add``, ``subtract``, ``multiply``, ``mod``, ``min``, ``max``,
comparisons, ``round``/``floor``/``ceil``, integer casts); ``divide`` is a true division that
gives 0 for a division by 0, as the algorithm list documents. Results that are not finite
(``log(0)``, ``sqrt(-1)``) come back as null, as Earth Engine sends them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ..core.objects import number_to_string
from ..core.registry import algorithm
from ..core.values import INT_RANGES
from ..errors import EEError

__all__ = ["CAST_METHODS", "cast_number", "format_number"]

Num = int | float


def _both_int(a: Num, b: Num) -> bool:
    return isinstance(a, int) and isinstance(b, int)


def _safe(fn: Callable[..., float], *args: Num) -> float:
    try:
        return fn(*args)
    except (ValueError, OverflowError, ZeroDivisionError):
        return math.nan


# --- binary arithmetic ---------------------------------------------------------------------


def _divide(a: Num, b: Num) -> Num:
    if b == 0:
        return 0
    q = a / b
    return int(q) if _both_int(a, b) and q.is_integer() else q


def _mod(a: Num, b: Num) -> Num:
    """The remainder with the sign of the dividend (Java's ``%``); 0 for a modulus of 0."""
    if b == 0:
        return 0
    if _both_int(a, b):
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    return math.fmod(a, b)


def _pow(a: Num, b: Num) -> Num:
    if _both_int(a, b) and b >= 0:
        return a**b
    return _safe(math.pow, a, b)


_BINARY: dict[str, Callable[[Num, Num], Num]] = {
    "Number.add": lambda a, b: a + b,
    "Number.subtract": lambda a, b: a - b,
    "Number.multiply": lambda a, b: a * b,
    "Number.divide": _divide,
    "Number.mod": _mod,
    "Number.pow": _pow,
    "Number.max": lambda a, b: max(a, b),
    "Number.min": lambda a, b: min(a, b),
    "Number.first": lambda a, b: a,
    "Number.firstNonZero": lambda a, b: a if a != 0 else b,
    "Number.first_nonzero": lambda a, b: a if a != 0 else b,
    "Number.atan2": lambda a, b: math.atan2(a, b),
    "Number.hypot": lambda a, b: math.hypot(a, b),
    "Number.lt": lambda a, b: int(a < b),
    "Number.lte": lambda a, b: int(a <= b),
    "Number.gt": lambda a, b: int(a > b),
    "Number.gte": lambda a, b: int(a >= b),
    "Number.eq": lambda a, b: int(a == b),
    "Number.neq": lambda a, b: int(a != b),
    "Number.and": lambda a, b: int(a != 0 and b != 0),
    "Number.or": lambda a, b: int(a != 0 or b != 0),
}


def _register_binary(name: str, fn: Callable[[Num, Num], Num]) -> None:
    @algorithm(name)
    def impl(left: Num, right: Num) -> Num:
        return fn(left, right)

    impl.__name__ = name.split(".", 1)[1]


for _name, _fn in _BINARY.items():
    _register_binary(_name, _fn)


def _int_args(left: Num, right: Num) -> tuple[int, int]:
    return int(left), int(right)


_BITWISE: dict[str, Callable[[int, int], int]] = {
    "Number.bitwiseAnd": lambda a, b: a & b,
    "Number.bitwise_and": lambda a, b: a & b,
    "Number.bitwiseOr": lambda a, b: a | b,
    "Number.bitwise_or": lambda a, b: a | b,
    "Number.bitwiseXor": lambda a, b: a ^ b,
    "Number.bitwise_xor": lambda a, b: a ^ b,
    "Number.leftShift": lambda a, b: _wrap64(a << b),
    "Number.left_shift": lambda a, b: _wrap64(a << b),
    "Number.rightShift": lambda a, b: a >> b,
    "Number.right_shift": lambda a, b: a >> b,
}


def _wrap64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _register_bitwise(name: str, fn: Callable[[int, int], int]) -> None:
    @algorithm(name)
    def impl(left: Num, right: Num) -> int:
        a, b = _int_args(left, right)
        return fn(a, b)


for _name, _fn in _BITWISE.items():
    _register_bitwise(_name, _fn)


@algorithm("Number.gammainc")
def gammainc(left: Num, right: Num) -> float:
    import scipy.special

    return float(scipy.special.gammainc(left, right))


# --- unary functions -----------------------------------------------------------------------


def _java_round(v: float) -> Num:
    """Java's ``Math.round``: the nearest integer, halves rounded up."""
    if not math.isfinite(v):
        return v
    return int(math.floor(v + 0.5))


def _int_or_nan(fn: Callable[[float], float]) -> Callable[[Num], Num]:
    def apply(v: Num) -> Num:
        if isinstance(v, int):
            return v
        return int(fn(v)) if math.isfinite(v) else v

    return apply


def _exp(v: Num) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _signum(v: Num) -> Num:
    if isinstance(v, float) and math.isnan(v):
        return v
    return (v > 0) - (v < 0)


def _special(name: str) -> Callable[[Num], float]:
    def apply(v: Num) -> float:
        import scipy.special

        return float(getattr(scipy.special, name)(v))

    return apply


_UNARY: dict[str, Callable[[Num], Num]] = {
    "Number.abs": abs,
    "Number.not": lambda v: int(v == 0),
    "Number.sqrt": lambda v: _safe(math.sqrt, v),
    "Number.cbrt": lambda v: math.copysign(abs(v) ** (1.0 / 3.0), v),
    "Number.log": lambda v: -math.inf if v == 0 else _safe(math.log, v),
    "Number.log10": lambda v: -math.inf if v == 0 else _safe(math.log10, v),
    "Number.exp": lambda v: _exp(v),
    "Number.sin": lambda v: _safe(math.sin, v),
    "Number.cos": lambda v: _safe(math.cos, v),
    "Number.tan": lambda v: _safe(math.tan, v),
    "Number.asin": lambda v: _safe(math.asin, v),
    "Number.acos": lambda v: _safe(math.acos, v),
    "Number.atan": lambda v: _safe(math.atan, v),
    "Number.sinh": lambda v: _safe(math.sinh, v),
    "Number.cosh": lambda v: _safe(math.cosh, v),
    "Number.tanh": lambda v: _safe(math.tanh, v),
    "Number.floor": _int_or_nan(math.floor),
    "Number.ceil": _int_or_nan(math.ceil),
    "Number.round": lambda v: v if isinstance(v, int) else _java_round(v),
    "Number.signum": lambda v: (
        (v > 0) - (v < 0) if not isinstance(v, float) or not math.isnan(v) else v
    ),
    "Number.gamma": lambda v: _safe(math.gamma, v),
    "Number.digamma": _special("digamma"),
    "Number.erf": lambda v: math.erf(v),
    "Number.erfc": lambda v: math.erfc(v),
    "Number.erfInv": _special("erfinv"),
    "Number.erfcInv": _special("erfcinv"),
    "Number.bitwiseNot": lambda v: ~int(v),
    "Number.bitwise_not": lambda v: ~int(v),
    "Number.bitCount": lambda v: bin(int(v) & ((1 << 64) - 1)).count("1"),
}


def _trigamma(v: Num) -> float:
    import scipy.special

    return float(scipy.special.polygamma(1, v))


_UNARY["Number.trigamma"] = _trigamma


def _register_unary(name: str, fn: Callable[[Num], Num]) -> None:
    @algorithm(name)
    def impl(input: Num) -> Num:
        return fn(input)


for _name, _fn in _UNARY.items():
    _register_unary(_name, _fn)


# --- casts ---------------------------------------------------------------------------------


#: The cast methods of each pixel type: the same names for ``Number.*`` and ``Image.*``
#: (``Number.toByte``, ``Image.uint8`` …).
CAST_METHODS = {
    "uint8": ("uint8", "toUint8", "byte", "toByte"),
    "int8": ("int8", "toInt8"),
    "uint16": ("uint16", "toUint16"),
    "int16": ("int16", "toInt16", "short", "toShort"),
    "uint32": ("uint32", "toUint32"),
    "int32": ("int32", "toInt32", "int", "toInt"),
    "int64": ("int64", "toInt64", "long", "toLong"),
    "float32": ("float", "toFloat"),
    "float64": ("double", "toDouble"),
}


def cast_number(value: Num, dtype: str) -> Num:
    """A number cast to a pixel type: integers truncate toward zero and saturate."""
    if dtype in INT_RANGES:
        lo, hi = INT_RANGES[dtype]
        if isinstance(value, float):
            if math.isnan(value):
                return 0
            if math.isinf(value):
                return hi if value > 0 else lo
            value = math.trunc(value)
        return min(max(int(value), lo), hi)
    if dtype == "float32":
        import numpy as np

        return float(np.float32(value))
    return float(value)


def _register_cast(dtype: str, names: tuple[str, ...]) -> None:
    @algorithm(*names)
    def impl(input: Num) -> Num:
        return cast_number(input, dtype)


for _dtype, _methods in CAST_METHODS.items():
    _register_cast(_dtype, tuple(f"Number.{m}" for m in _methods))


@algorithm("Number.clamp")
def clamp(number: Num, min: Num, max: Num) -> Num:
    return min if number < min else max if number > max else number


@algorithm("Number.unitScale")
def unit_scale(number: Num, min: Num, max: Num) -> float:
    if max == min:
        return 0
    return (number - min) / (max - min)


# --- parsing and formatting ----------------------------------------------------------------


@algorithm("Number.parse")
def parse(input: str, radix: int | None = 10) -> Num:
    text = input.strip()
    base = 10 if radix is None else radix
    try:
        if base == 10:
            if re.fullmatch(r"[+-]?\d+", text):
                return int(text)
            return float(text)
        return int(text, base)
    except ValueError:
        raise EEError(
            f"Number.parse: Unable to parse '{text}' as a number (radix {base})."
        ) from None


_FORMAT = re.compile(
    r"^(?P<pre>[^%]*)%(?P<mods>[#\-+ 0,(.\d]*)(?P<conv>[sdoxXeEfgGaA])(?P<post>[^%]*)$"
)


def format_number(value: Num, pattern: str) -> str:
    """A number formatted by a Java ``printf`` pattern with one conversion.

    Raises
    ------
    EEError
        a pattern Earth Engine rejects, or a conversion the local engine does not
        implement (``%a``, the ``(`` flag).
    """
    text = pattern.replace("%%", "\x00")
    m = _FORMAT.match(text)
    if m is None:
        raise EEError(
            f"Number.format: Invalid format string '{pattern}': it must contain exactly one "
            "'%' conversion of the form %[flags][width][.precision][sdoxXeEfgGaA]."
        )
    pre, mods, conv, post = m.group("pre", "mods", "conv", "post")
    if conv in "aA" or "(" in mods:
        raise EEError(
            f"Number.format: the pattern '{pattern}' (hexadecimal floats or the '(' flag) is "
            "not implemented by the local engine."
        )
    grouping = "," in mods
    mods = mods.replace(",", "")
    if conv == "s":
        body = number_to_string(value)
        spec, _, precision = mods.partition(".")
        if precision:
            body = body[: int(precision)]
        if spec.lstrip("-"):
            w = int(spec.lstrip("-"))
            body = body.ljust(w) if spec.startswith("-") else body.rjust(w)
    elif conv in "doxX":
        if isinstance(value, float):
            if not value.is_integer():
                raise EEError(
                    f"Number.format: the conversion '%{conv}' needs an integer, got {value!r}."
                )
            value = int(value)
        body = ("%" + mods + conv) % value
        if grouping and conv == "d":
            body = _group(body)
    else:
        if conv in "gG":
            body = ("%#" + mods.replace("#", "") + conv) % float(value)
            body = body.rstrip(".") if "e" not in body.lower() else body
        else:
            body = ("%" + mods + conv) % float(value)
        if grouping:
            body = _group(body)
    return (pre + body + post).replace("\x00", "%")


def _group(text: str) -> str:
    m = re.match(r"^(\s*[+\- ]?0*)(\d+)(.*)$", text)
    if m is None:
        return text
    head, digits, tail = m.groups()
    return head + f"{int(digits):,}" + tail


@algorithm("Number.format")
def format_(number: Num, pattern: str | None = "%s") -> str:
    return format_number(number, "%s" if pattern is None else pattern)
