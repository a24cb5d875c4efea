"""One typed check of a Job (dreamstyle/core/validation.py): every setting, input and motion knob
of the wrong type, not finite, too long or too many is refused as one UserError in the command
line's words, naming its field, whether it comes from JSON (`Job.from_json`: the studio, `--from`
on a hand-edited record, a cluster's workers), from `build` (flags, presets, the API's keywords)
or from a settings object built in Python; never as a crash later inside a run."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from dreamstyle import DreamSettings, Job, MotionSettings, StyleSettings, UserError, VisualizeSettings
from dreamstyle.core import registry
from dreamstyle.core.settings import ClusterSettings, build, flag
from dreamstyle.core.settings_probe import TopSettings
from dreamstyle.core.validation import MAX_ITEMS, MAX_TEXT, shown
from dreamstyle.media.images import SETTINGS_KEY
from helpers import SAMPLES, invoke

STYLE = {"schema": 1, "engine": "style", "inputs": {"content": "photo.jpg", "styles": ["a.jpg"]}, "settings": {}}


def style_job(**settings) -> dict:
    data = copy.deepcopy(STYLE)
    data["settings"].update(settings)
    return data


def refused(data) -> UserError:
    with pytest.raises(UserError) as info:
        Job.from_json(data)
    return info.value


# --- the issue's examples, word for word ------------------------------------------------------

# The bodies the studio answered 500 to (issue 23), then NaN, infinity and the CLI's own refusals:
# (setting, value, the one line: "message — hint").
EXAMPLES = [
    ("device", True, "--device true is not text — use auto, cpu, cuda or mps"),
    ("preserve_color", 0, "--preserve-color 0 is not text — use none, luminance or histogram"),
    ("content_weight", "\u0000", "--content-weight '\\x00' is not a number — give a number, e.g. --content-weight 1"),
    ("seed", "vgg19", "--seed 'vgg19' is not a whole number — give a whole number, e.g. --seed 0"),
    ("optimizer", {}, "--optimizer {} is not text — use lbfgs or adam"),
    ("style_layers", 1e308, "--style-layers 1e+308 is not text — give text, e.g. --style-layers relu1_1,relu2_1:0.5"),
    ("style_scale", None, "--style-scale null is not a number — give a number, e.g. --style-scale 1"),
    ("save_every", "\u0000", "--save-every '\\x00' is not a whole number — give a whole number, e.g. --save-every 0"),
    ("content_weight", -1e308, "--content-weight -1e+308 is out of range — use 0 up to 1e+12"),
    ("lr", math.nan, "--lr nan is not a finite number — give a number, e.g. --lr 0.02"),
    ("tv_weight", math.inf, "--tv-weight inf is not a finite number — give a number, e.g. --tv-weight 5"),
    ("style_weight", -math.inf, "--style-weight -inf is not a finite number — give a number, e.g. --style-weight 100"),
    ("steps", 2.5, "--steps 2.5 is not a whole number or auto — give a whole number, e.g. --steps 200, or --steps auto"),
    ("steps", "vgg19", "--steps 'vgg19' is not a number of steps — give a whole number, e.g. --steps 200, or --steps auto"),
    ("quiet", 1, "--quiet 1 is not true or false — give true or false"),
    ("size", 2**70, "--size 1180591620717411303424 is too large — give a whole number, e.g. --size 512"),
    ("size", 10**5000, "--size <a number of 5001 digits> is too large — give a whole number, e.g. --size 512"),
    ("scales", [256, "512"], "--scales [256, '512'] is not a list of whole numbers — give a list of whole numbers, e.g. --scales 256,512"),
    ("scales", "16-99999999", "--scales '16-99999999' names more than 64 items — give at most 64, e.g. --scales 256,512"),
    ("style_blend", "0.7,nan", "--style-blend [0.7, nan] is not a list of numbers — give a list of numbers, e.g. --style-blend 0.7,0.3"),
    ("init", "a\nb.jpg", "--init 'a\\nb.jpg' holds a control character ('\\n') — remove it: names and paths are plain text"),
    ("weights", "w" * 5000, f"--weights {shown('w' * 5000)} is too long (5000 characters) — give at most {MAX_TEXT}"),
    ("optimizer", "sgd", "unknown --optimizer 'sgd' — use lbfgs or adam"),
    ("precision", "fp8", "unknown precision 'fp8' — did you mean 'fp32' or 'fp16'?"),
    ("device", "cuda:x", "unknown device 'cuda:x' — use cuda or cuda:N, e.g. cuda:0"),
    ("stepz", 3, "unknown setting 'stepz' — did you mean 'steps'?"),
]


@pytest.mark.parametrize("name, value, line", EXAMPLES, ids=[f"{n}={shown(v)}" for n, v, _ in EXAMPLES])
def test_the_issues_bad_settings_are_one_line_naming_the_field(name, value, line):
    err = refused(style_job(**{name: value}))
    assert f"{err.message} — {err.hint}" == line
    assert err.field == name
    # The same words from build (flags, presets, the API's keywords) as from JSON.
    with pytest.raises(UserError) as info:
        build(StyleSettings, {name: value})
    assert (info.value.message, info.value.hint, info.value.field) == (err.message, err.hint, err.field)


def test_the_command_lines_text_still_becomes_the_fields_type():
    s = build(StyleSettings, {"steps": "200", "scales": "256,512", "style_blend": "0.7,0.3", "weights": Path("w.pth"), "init": Path("i.jpg")})
    assert (s.steps, s.scales, s.style_blend, s.weights, s.init) == (200, [256, 512], [0.7, 0.3], "w.pth", "i.jpg")
    assert build(StyleSettings, {"steps": "auto"}).steps == "auto"
    d = build(DreamSettings, {"channels": "0-3,7", "size": 64, "lr": 1, "seed": None})
    assert (d.channels, d.lr) == ([0, 1, 2, 3, 7], 1)  # a whole number is a number
    assert StyleSettings(scales=(128, 256)).scales == [128, 256]  # a tuple from Python is a list
    # A subclass that narrows `steps` to a number keeps its base's refusal of words.
    with pytest.raises(UserError, match="--steps auto applies to style and visualize only"):
        build(DreamSettings, {"steps": "auto"})
    assert TopSettings(steps="auto").steps == "auto"


def test_validate_refusals_name_their_field_too():
    """The dataclasses' own range and choice checks set `field` from the flag they name."""
    cases = [
        (lambda: DreamSettings(octaves=0), "octaves"),
        (lambda: DreamSettings(channels=[1], guide="g.jpg"), "channels"),
        (lambda: StyleSettings(precision="fp8"), "precision"),
        (lambda: StyleSettings(device="tpu"), "device"),
        (lambda: StyleSettings(steps=-1), "steps"),
        (lambda: VisualizeSettings(transforms="wild"), "transforms"),
        (lambda: MotionSettings(frames=0), "motion.frames"),
        (lambda: MotionSettings(long_term=[4, 1]), "motion.long_term"),
        (lambda: MotionSettings(temporal="blend", passes=2), "motion.long_term"),
        (lambda: ClusterSettings(backend="rays"), "backend"),
        (lambda: build(DreamSettings, {"channels": "a,b"}), "channels"),
        (lambda: build(MotionSettings, {"zom": 1.1}), "motion.zom"),
    ]
    for make, field in cases:
        with pytest.raises(UserError) as info:
            make()
        assert info.value.field == field, (info.value, info.value.field)


# --- every field, every wrong type --------------------------------------------------------------

# Values no field of any settings class takes (an empty object, a list of 100 numbers, a number
# that is not finite or too large for any setting, text with a NUL or past the bound)...
NEVER = [{}, [0] * 100, math.nan, math.inf, -math.inf, 2**70, -(2**70), "\u0000", "x" * (MAX_TEXT + 1), 1e308, -1e308]
CLASSES = sorted({e.settings for e in registry.ENGINES.values()} | {MotionSettings}, key=lambda c: c.__name__)


def declared(cls: type, name: str):
    """A field's annotation where it is first declared (TopSettings' `steps: int` only changes
    CommonSettings' default; its type stays `int | str`)."""
    base = next(k for k in reversed(cls.__mro__) if name in k.__dict__.get("__annotations__", {}))
    return typing.get_type_hints(base)[name]


def wrong_for(cls: type, name: str) -> list:
    """...and values of a type the field's annotation does not allow."""
    hint = declared(cls, name)
    options = typing.get_args(hint) or (hint,)
    lists = any(typing.get_origin(t) is list for t in options)
    out = [v for v in NEVER if not (v == [0] * 100 and name == "channels")]  # a layer's channels may be many
    if bool not in options:
        out += [True, False]
    if type(None) not in options:
        out.append(None)
    if not lists and float not in options and int not in options:
        out += [3, 0.5]
    if not lists and int not in options and float not in options:
        out.append([1, 2])
    if not lists and str not in options:
        out.append("12")
    return out


CELLS = [(cls, f.name, v) for cls in CLASSES for f in dataclasses.fields(cls) for v in wrong_for(cls, f.name)]


@pytest.mark.parametrize("cls, name, value", CELLS, ids=[f"{c.__name__}.{n}={shown(v)[:20]}" for c, n, v in CELLS])
def test_every_field_refuses_every_wrong_value_as_one_user_error(cls, name, value):
    prefix = "motion." if cls is MotionSettings else ""
    with pytest.raises(UserError) as info:
        build(cls, {name: value})
    err = info.value
    assert err.field == prefix + name, (err, err.field)
    assert err.hint and "\n" not in str(err) and len(str(err)) < 300
    assert flag(name) in err.message or name.replace("_", "-") in err.message or name in err.message


def test_the_table_covers_every_field_of_every_job_kind():
    fields = {(c, f.name) for c in CLASSES for f in dataclasses.fields(c)}
    assert {(c, n) for c, n, _ in CELLS} == fields
    assert len(CELLS) > 400


def test_a_settings_object_changed_after_it_was_built_is_checked_again_by_job():
    s = StyleSettings()
    s.style_weight = "heavy"  # the dataclass is not frozen: a script may do this
    with pytest.raises(UserError) as info:
        Job("style", {"content": "photo.jpg", "styles": ["a.jpg"]}, s)
    assert info.value.field == "style_weight"
    with pytest.raises(UserError) as info:
        Job("dream", {"image": "photo.jpg"}, DreamSettings(), motion={"frames": 3})
    assert info.value.field == "motion"


# --- inputs ------------------------------------------------------------------------------------

BAD_INPUTS = [
    ("style", {"contnet": "photo.jpg"}, "inputs.contnet", "unknown input 'contnet' for a style job — did you mean 'content'?"),
    ("style", {"content": 5}, "inputs.content", 'input content = 5 is not a path — give the path of a picture as text, e.g. "photo.jpg"'),
    ("style", {"content": {"path": "a"}}, "inputs.content", 'input content = {…} is not a path — give the path of a picture as text, e.g. "photo.jpg"'),
    ("style", {"content": ["a.jpg", "b.jpg"]}, "inputs.content", None),  # a list of paths is not one picture
    ("style", {"content": "a\u0000.jpg"}, "inputs.content", None),
    ("style", {"styles": "a.jpg"}, "inputs.styles", 'input styles = \'a.jpg\' is not a list — give a list, e.g. ["photo.jpg"]'),
    ("style", {"styles": [True]}, "inputs.styles", None),
    ("style", {"styles": ["a.jpg"] * (MAX_ITEMS + 1)}, "inputs.styles", f"input styles has {MAX_ITEMS + 1} items — give at most {MAX_ITEMS}"),
    ("style", {"sweep": ["heavy"]}, "inputs.sweep", None),
    ("style", {"sweep": [math.nan]}, "inputs.sweep", None),
    ("style", {"temporal": 3}, "inputs.temporal", None),
    ("dream", {"image": "x" * (MAX_TEXT + 1)}, "inputs.image", None),
    ("visualize.neuron", {"layer": "block9", "channel": -1}, "inputs.channel", "input channel = -1 is not a whole number from 0 — the channel, e.g. 12"),
    ("visualize.neuron", {"layer": "block9", "channel": "12"}, "inputs.channel", None),
    ("visualize.neuron", {"layer": "block9", "channel": True}, "inputs.channel", None),
    ("visualize.neuron", {"layer": "block9", "channel": 2**40}, "inputs.channel", None),
    ("visualize.neuron", {"layer": 9, "channel": 1}, "inputs.layer", None),
    ("visualize.neuron", {"layer": "block9", "x": 1.5}, "inputs.x", None),
    ("visualize.channels", {"channels": "0-99999999"}, "inputs.channels", None),
    ("visualize.channels", {"channels": [1, -1]}, "inputs.channels", None),
    ("visualize.class", {"classes": "goldfish"}, "inputs.classes", None),
    ("visualize.class", {"classes": [None]}, "inputs.classes", None),
    ("visualize.class", {"classes": [1.5]}, "inputs.classes", None),
    ("visualize.maps", {"image": "a.jpg", "top": "all"}, "inputs.top", None),
    ("visualize.top", {"folder": ["a", "b"]}, "inputs.folder", None),
]


@pytest.mark.parametrize("engine, inputs, field, line", BAD_INPUTS, ids=[f"{e}-{f}-{i}" for i, (e, _, f, _) in enumerate(BAD_INPUTS)])
def test_bad_inputs_are_refused_against_the_registry(engine, inputs, field, line):
    data = {"schema": 1, "engine": engine, "inputs": inputs, "settings": {}}
    err = refused(json.dumps(data))
    assert err.field == field, (err, err.field)
    assert err.hint and "\n" not in str(err)
    if line is not None:
        assert f"{err.message} — {err.hint}" == line
    # A Job built in Python meets the same check.
    with pytest.raises(UserError) as info:
        Job(engine, inputs, registry.engine(engine).settings())
    assert info.value.field == field


def test_the_python_api_still_passes_pictures_held_in_memory():
    img = Image.new("RGB", (8, 8))
    Job("style", {"content": img, "styles": [img, Path("a.jpg")], "sweep": [10, 100.0]}, StyleSettings())
    Job("style", {"content": "a.jpg", "styles": ["b.jpg"], "start": img, "temporal": object()}, StyleSettings())
    clip = Job("dream", {"image": [img, img]}, DreamSettings(), motion=MotionSettings())  # a clip's frames
    assert clip.inputs["image"] == [img, img]
    Job("visualize.class", {"classes": ["goldfish", 980]}, VisualizeSettings())
    Job("visualize.channels", {"layer": "block6", "channels": [0, 3]}, VisualizeSettings())
    Job("visualize.neuron", {"layer": "block9", "channel": 12, "x": None, "y": 3}, VisualizeSettings())
    # Anything else held in memory is not a picture.
    with pytest.raises(UserError, match=r"input image = <object> is not a path") as info:
        Job("dream", {"image": object()}, DreamSettings())
    assert info.value.field == "inputs.image"


def test_the_job_json_itself_is_checked():
    cases = [
        ({**STYLE, "extra": 1}, "extra", "unknown key 'extra' in the job"),
        ({**STYLE, "schema": True}, "schema", "the job's schema true is not a version number"),
        ({**STYLE, "schema": 2}, "schema", "this job was written by a newer dreamstyle (schema 2)"),
        ({**STYLE, "engine": None}, "engine", "unknown engine null in the job"),
        ({**STYLE, "inputs": [["content", "a.jpg"]]}, "inputs", "the job's inputs […] is not a JSON object"),
        ({**STYLE, "settings": None}, "settings", "the job carries no settings"),
        ({**STYLE, "motion": 5}, "motion", "the job's motion 5 is not a JSON object"),
        ({**STYLE, "motion": {"frames": "x"}}, "motion.frames", "--frames 'x' is not a whole number"),
        ({**STYLE, "motion": {"zom": 1.1}}, "motion.zom", "unknown setting 'zom'"),
        ({**STYLE, "ran": [1]}, "ran", "the job's ran [1] is not a JSON object"),
        ({**STYLE, "output": 5}, "output", "the job's output 5 is not text"),
        ({**STYLE, "output": "o\r.png"}, "output", "the job's output 'o\\r.png' holds a control character"),
    ]
    for data, field, message in cases:
        err = refused(data)
        assert (err.field, err.message) == (field, message) or (err.field == field and err.message.startswith(message)), (err, err.field)
    # Text that is no JSON at all: one line, whatever the parser choked on.
    for text in ("{not json", "[" * 100_000, b"\xff", '{"settings": {"size": 1' + "0" * 5000 + "}}"):
        err = refused(text)
        assert err.message.startswith("not a dreamstyle job") and len(err.message) < 300


def test_the_field_survives_pickling_as_a_cluster_sends_it_back():
    err = pickle.loads(pickle.dumps(UserError("--size 0 is out of range", "use 16 up", field="size")))
    assert (err.message, err.hint, err.field) == ("--size 0 is out of range", "use 16 up", "size")
    assert UserError("plain").field is None


# --- every surface ------------------------------------------------------------------------------


def sample_job(spec: registry.Engine) -> Job:
    """A job of `spec` with every input filled as its kind says, every setting at its default."""
    value = {"image": "photo.jpg", "str": "block6", "int": 3}
    inputs = {i.name: [value[i.kind]] * 2 if i.many else value[i.kind] for i in spec.inputs}
    return Job(spec.name, inputs, spec.settings(model="efficientnet-lite0"), output="out.png",
               motion=MotionSettings(long_term=[1, 2, 4], passes=2) if spec.clips else None)  # fmt: skip


@pytest.mark.parametrize("spec", list(registry.ENGINES.values()), ids=lambda e: e.name)
def test_a_valid_job_of_every_engine_still_round_trips(spec):
    job = sample_job(spec)
    text = job.to_json()
    assert Job.from_json(text) == job and Job.from_json(text).to_json() == text


def test_from_with_a_hand_edited_png_is_one_line(tmp_path):
    """`--from` reads the record through Job.from_json: an edited record is refused before any
    model loads, in the words the flag would get."""
    record = style_job(seed="vgg19")
    record["inputs"] = {"content": str(SAMPLES / "cat.jpg"), "styles": [str(SAMPLES / "swirls.jpg")]}
    edited = tmp_path / "edited.png"
    info = PngInfo()
    info.add_text(SETTINGS_KEY, json.dumps(record))
    Image.new("RGB", (8, 8)).save(edited, pnginfo=info)
    res = invoke("style", "--from", edited, "-o", tmp_path / "o.png", "-q")
    assert res.exit_code == 2, res.output
    assert res.stderr == "error: --seed 'vgg19' is not a whole number — give a whole number, e.g. --seed 0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.png"]


def test_the_api_refuses_a_wrong_type_in_the_same_words():
    from dreamstyle import dream

    with pytest.raises(UserError) as info:
        dream(Image.new("RGB", (8, 8)), octaves="many", quiet=True)
    assert (str(info.value), info.value.field) == ("--octaves 'many' is not a whole number (give a whole number, e.g. --octaves 4)", "octaves")


# --- anything at all ----------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
SETTING_NAMES = sorted({f.name for c in CLASSES for f in dataclasses.fields(c)})
INPUT_NAMES = sorted({i.name for e in registry.ENGINES.values() for i in e.inputs} | {"sweep", "start"})


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine=st.sampled_from(sorted(registry.ENGINES)),
       settings=st.dictionaries(st.sampled_from(SETTING_NAMES), JSON, max_size=3),
       inputs=st.dictionaries(st.sampled_from(INPUT_NAMES), JSON, max_size=3),
       motion=st.none() | st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(MotionSettings)]), JSON, max_size=2))  # fmt: skip
def test_any_json_is_a_job_or_one_user_error(engine, settings, inputs, motion):
    """Whatever values a body carries, Job.from_json gives a Job that round-trips, or one
    UserError: never a TypeError, ValueError, OverflowError or a crash inside a run later."""
    data = {"schema": 1, "engine": engine, "inputs": inputs, "settings": settings, "motion": motion}
    try:
        job = Job.from_json(json.dumps(data))
    except UserError as err:
        assert err.field and err.hint is not None and "\n" not in err.message and len(err.message) < 400
        return
    assert Job.from_json(job.to_json()).to_json() == job.to_json()
    for value in dataclasses.asdict(job.settings).values():
        assert not isinstance(value, float) or math.isfinite(value)
