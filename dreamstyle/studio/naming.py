"""What the studio calls its outputs: the names the command line gives them, from the uploaded
photo's own name (cat.jpg + style -> cat-style.png), with -2, -3 … only when the name is taken.

The command line's defaults, kept in step here (tests/test_studio_names.py checks a few):
dream, style and fast write PHOTO-dream.png, PHOTO-style.png (core/planning.py's
default_output_path); visualize maps PHOTO-maps-LAYER.png; the other visualize kinds
MODEL-filters(-LAYER), MODEL-LAYER-channels, MODEL-LAYER-CHANNEL-neuron, MODEL-class-NAME(-etc)
(cli/visualize.py); train the first painting's name, .pt (cli/train.py).

A name is taken when a file STEM.* is in the folder (the picture, its .partial.png, the regions
map or mask kept beside it, a network's .preview.png) or a job the studio knows will write it, or
when this studio handed it out a moment ago (two jobs submitted at once get two names).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.job import Job

# The command line's word for an engine's output where it is not the engine's own name.
WORDS = {"fast": "style"}
RECENT = 1000  # names handed out lately, remembered until their jobs are in the queue


def safe_stem(text: Any, ascii: bool = False) -> str:
    """`text` as a file-name-safe piece of a name: letters (any script; `ascii`: accents
    dropped, other scripts left out, as network names are), digits, _ and -, at most 40
    ("features.28" -> "features-28")."""
    text = str(text)
    if ascii:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^\w-]+", "-", text).strip("-_")
    return stem[:40].strip("-_") or "picture"


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def stem_of(job: Job, photo_name: Callable[[str], str | None]) -> str:
    """The command line's name for what `job` writes, without the -2 a taken name gets;
    `photo_name(path)` is the name an upload was sent with (None: the file's own name)."""
    from ..core import registry

    def photo(key: str) -> str | None:
        path = _first(job.inputs.get(key))
        if not isinstance(path, str):
            return None
        return safe_stem(Path(photo_name(path) or path).stem, ascii=engine == "train")  # the network list's names are ASCII

    engine, inputs, model = job.engine, job.inputs, safe_stem(getattr(job.settings, "model", "") or "model")
    layer = safe_stem(inputs["layer"]) if isinstance(inputs.get("layer"), str) and inputs["layer"] else None
    kind = engine.removeprefix("visualize.")
    if engine == "train":
        return photo("styles") or "network"
    if engine == "visualize.maps":
        return "-".join(filter(None, (photo("image"), "maps", layer)))
    if kind == "filters":
        return f"{model}-filters" + (f"-{layer}" if layer else "")
    if kind in ("channels", "neuron"):
        channel = str(inputs.get("channel")) if kind == "neuron" and inputs.get("channel") is not None else None
        return "-".join(filter(None, (model, layer, channel, kind)))
    if kind == "class":
        classes = inputs.get("classes") or []
        classes = classes if isinstance(classes, list) else [classes]
        first = safe_stem(str(classes[0]).replace(" ", "_")) if classes else None
        return "-".join(filter(None, (model, "class", first))) + ("-etc" if len(classes) > 1 else "")
    source = registry.engine(engine).source
    word = WORDS.get(engine, engine.replace(".", "-"))
    return f"{photo(source)}-{word}" if source and photo(source) else word


class OutputNames:
    """Hands out free output paths; `known()` gives the outputs of the jobs the studio holds,
    `photo_name(path)` the name an upload was sent with (the app sets both)."""

    def __init__(self, known: Callable[[], Iterable[str]] = lambda: (), photo_name: Callable[[str], str | None] = lambda path: None):
        self.known, self.photo_name = known, photo_name
        self._recent: deque[str] = deque(maxlen=RECENT)
        self._lock = threading.Lock()

    def claim(self, job: Job, again: bool = False) -> Job:
        """`job` writing to its output's name, or STEM-2, -3 … when that is taken; `again`: a
        copy of an ended job, named afresh from its photo as a new job would be."""
        wanted = Path(job.output)
        stem = stem_of(job, self.photo_name) if again else wanted.name.removesuffix(wanted.suffix)
        return job.replace(output=str(self.free(wanted.parent, stem, wanted.suffix)))

    def free(self, folder: Path, stem: str, suffix: str, cells: bool = False) -> Path:
        """folder/STEM.SUFFIX, or folder/STEM-2.SUFFIX, -3 … when STEM is taken; `cells`: a
        grid's, whose cells' STEM-xI-yJ.png must be free too."""
        with self._lock:
            busy = {_stem(p) for p in self.known() if p} | set(self._recent)

            def taken(c: str) -> bool:
                if c in busy or _on_disk(folder, c):
                    return True
                return cells and (_on_disk(folder, c, "-x*") or any(b.startswith(f"{c}-x") for b in busy))

            n, candidate = 2, stem
            while taken(candidate):
                candidate, n = f"{stem}-{n}", n + 1
            self._recent.append(candidate)
            return folder / f"{candidate}{suffix}"


def _stem(path: str) -> str:
    return Path(path).name.split(".")[0]


def _on_disk(folder: Path, stem: str, then: str = ".*") -> bool:
    return folder.is_dir() and any(True for _ in folder.glob(glob_escape(stem) + then))


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
