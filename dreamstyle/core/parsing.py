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


CUT_WORDS = ("auto", "none")  # --cuts: found from the frames, or no cuts at all


def parse_cuts(spec: str) -> str:
    """--cuts as text: "auto", "none", or the frames where a new shot starts, normalised to
    increasing whole numbers without repeats ("40, 12,12" -> "12,40"), so that two ways of
    typing the same cuts make the same Job."""
    text = str(spec).strip().lower()
    if text in CUT_WORDS:
        return text
    hint = "give auto, none, or the frames where a new shot starts, e.g. --cuts 48 or --cuts 12,40"
    try:
        frames = sorted({int(p) for p in text.split(",") if p.strip()})
    except ValueError:
        raise UserError(f"--cuts {spec!r} is not auto, none or a list of frame numbers", hint) from None
    if not frames:
        raise UserError("--cuts is empty", hint)
    if frames[0] < 1:
        raise UserError(f"--cuts {frames[0]} is not a frame after the first", "frames count from 0, and frame 0 starts the first shot; e.g. --cuts 48")
    return ",".join(map(str, frames))


def cut_frames(spec: str) -> list[int] | None:
    """The frames a normalised --cuts names: a list (empty for "none"), or None for "auto"."""
    if spec == "auto":
        return None
    return [] if spec == "none" else [int(p) for p in spec.split(",")]



def split_style_weight(text: str | None) -> tuple[float | str | None, list[float] | None]:
    """The command line's --style-weight: "30" is one weight (returned as a number, or as the text
    for the type check to refuse in its words), "100,300" one weight per region (region_weights)."""
    if text is None or "," not in text:
        try:
            return (float(text) if text is not None else None), None
        except ValueError:
            return text, None
    return None, parse_float_list(text, "--style-weight")
