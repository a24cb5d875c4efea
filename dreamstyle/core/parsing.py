"""Lists as typed on a command line: layer weights, channel ranges, numbers."""

from __future__ import annotations

from ..errors import UserError


def parse_float_list(spec: str | list | None, what: str) -> list[float] | None:
    if spec is None or isinstance(spec, list):
        return spec
    try:
        return [float(p) for p in str(spec).split(",") if p.strip()]
    except ValueError:
        raise UserError(f"{what} {spec!r} is not a list of numbers", f"e.g. {what} 0.7,0.3") from None


def parse_layers(spec: str) -> dict[str, float]:
    """'relu4_3:1,relu5_1:0.5' -> {'relu4_3': 1.0, 'relu5_1': 0.5}."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        try:
            out[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise UserError(f"bad layer weight in {part!r}", "write layers as name or name:weight, e.g. relu4_3:1,relu5_1:0.5") from None
    if not out:
        raise UserError("no layers given", "e.g. --layers relu4_3")
    return out


def parse_int_list(spec: str | list[int] | None, what: str = "--channels") -> list[int] | None:
    """'12,40' or '0-15' or '3,7-9' -> a list of ints."""
    if spec is None or isinstance(spec, list):
        return spec
    out: list[int] = []
    try:
        for part in str(spec).split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise UserError(f"{what} {spec!r} is not a list of numbers", f"e.g. {what} 12,40 or {what} 0-15") from None
    return out
