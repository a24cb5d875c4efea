"""Tests for dreamstyle.media.images; every image is generated in tmp_path."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from dreamstyle.media import images
from dreamstyle.errors import UserError
from dreamstyle.media.images import (
    Picture,
    check_output_path,
    default_output_path,
    load_image,
    read_settings,
    resize_longest,
    save_image,
    to_pil,
    to_tensor,
)


def rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def gradient(w: int = 32, h: int = 24) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1)
    return Image.fromarray(arr.astype(np.uint8))


# --- loading: modes ---------------------------------------------------------------------------


def test_rgb_png_exact(tmp_path):
    src = gradient()
    src.save(tmp_path / "a.png")
    pic = load_image(tmp_path / "a.png")
    assert isinstance(pic, Picture)
    assert pic.rgb.mode == "RGB" and pic.alpha is None
    assert pic.path == tmp_path / "a.png"
    assert np.array_equal(rgb(pic.rgb), rgb(src))


def test_grey_l(tmp_path):
    Image.fromarray(np.array([[0, 100, 255]], dtype=np.uint8)).save(tmp_path / "g.png")
    pic = load_image(tmp_path / "g.png")
    assert pic.rgb.mode == "RGB"
    assert [pic.rgb.getpixel((i, 0)) for i in range(3)] == [(0, 0, 0), (100, 100, 100), (255, 255, 255)]


def test_grey_la_keeps_alpha(tmp_path):
    img = Image.new("LA", (4, 4), (200, 255))
    img.putpixel((0, 0), (50, 0))
    img.save(tmp_path / "la.png")
    pic = load_image(tmp_path / "la.png")
    assert pic.rgb.mode == "RGB" and pic.rgb.getpixel((1, 1)) == (200, 200, 200)
    assert pic.alpha is not None and pic.alpha.mode == "L" and pic.alpha.size == pic.rgb.size
    assert pic.alpha.getpixel((0, 0)) == 0 and pic.alpha.getpixel((1, 1)) == 255


def _sixteen_bit(tmp_path, dtype, name, fmt):
    arr = np.array([[65535, 32768, 0, 257]], dtype=dtype)
    Image.fromarray(arr).save(tmp_path / name, format=fmt)
    return load_image(tmp_path / name)


@pytest.mark.parametrize(
    ("dtype", "name", "fmt"),
    [("<u2", "g16.png", "PNG"), (">u2", "g16b.tif", "TIFF"), ("<u2", "g16.tif", "TIFF"),
     ("<i4", "gi.tif", "TIFF")],
)
def test_sixteen_bit_grey_scaled_not_clipped(tmp_path, dtype, name, fmt):
    pic = _sixteen_bit(tmp_path, dtype, name, fmt)
    values = [pic.rgb.getpixel((i, 0))[0] for i in range(4)]
    assert values[0] == 255 and values[2] == 0 and values[3] == 1
    assert abs(values[1] - 128) <= 1  # 32768 / 257 = 127.5
    assert pic.rgb.getpixel((1, 0)) == (values[1],) * 3


def test_sixteen_bit_modes_really_are_sixteen_bit(tmp_path):
    # Guard against Pillow silently changing what these files open as, which would hollow out
    # the test above.
    cases = [("<u2", "a.png", "PNG", {"I;16", "I"}), (">u2", "b.tif", "TIFF", {"I;16B"}),
             ("<i4", "c.tif", "TIFF", {"I"})]
    for dtype, name, fmt, modes in cases:
        Image.fromarray(np.array([[1, 2]], dtype=dtype)).save(tmp_path / name, format=fmt)
        with Image.open(tmp_path / name) as img:
            assert img.mode in modes


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0.0, 0.5, 1.0], [0, 128, 255]), ([0.0, 100.0, 255.0], [0, 100, 255]),
     ([-5.0, 300.0, 2.0], [0, 255, 2])],
)
def test_float_mode(tmp_path, values, expected):
    Image.fromarray(np.array([values], dtype=np.float32)).save(tmp_path / "f.tif")
    with Image.open(tmp_path / "f.tif") as img:
        assert img.mode == "F"
    pic = load_image(tmp_path / "f.tif")
    assert [pic.rgb.getpixel((i, 0))[0] for i in range(3)] == expected


def test_one_bit(tmp_path):
    img = Image.new("1", (4, 2), 0)
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "bw.png")
    pic = load_image(tmp_path / "bw.png")
    assert pic.rgb.getpixel((0, 0)) == (0, 0, 0) and pic.rgb.getpixel((1, 0)) == (255, 255, 255)


def test_palette_without_transparency(tmp_path):
    src = Image.new("RGB", (4, 4), (10, 200, 30))
    src.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    pic = load_image(tmp_path / "p.png")
    assert pic.alpha is None and pic.rgb.getpixel((2, 2)) == (10, 200, 30)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 250, 20, 20] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.save(tmp_path / "pt.png", transparency=0)
    pic = load_image(tmp_path / "pt.png")
    assert pic.rgb.getpixel((1, 1)) == (250, 20, 20)
    assert pic.alpha is not None and pic.alpha.getpixel((0, 0)) == 0 and pic.alpha.getpixel((1, 1)) == 255


def test_rgba_keeps_alpha_uncomposited(tmp_path):
    img = Image.new("RGBA", (6, 4), (255, 0, 0, 128))
    img.putpixel((0, 0), (0, 0, 255, 0))
    img.save(tmp_path / "a.png")
    pic = load_image(tmp_path / "a.png")
    assert pic.rgb.mode == "RGB"
    assert pic.rgb.getpixel((1, 1)) == (255, 0, 0)  # not blended with any background
    assert pic.rgb.getpixel((0, 0)) == (0, 0, 255)
    assert pic.alpha.mode == "L" and pic.alpha.size == (6, 4)
    assert pic.alpha.getpixel((1, 1)) == 128 and pic.alpha.getpixel((0, 0)) == 0


def test_fully_opaque_rgba_has_no_alpha(tmp_path):
    Image.new("RGBA", (4, 4), (1, 2, 3, 255)).save(tmp_path / "o.png")
    assert load_image(tmp_path / "o.png").alpha is None


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG"])
def test_cmyk_cyan(tmp_path, fmt):
    name = "c.tif" if fmt == "TIFF" else "c.jpg"
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(tmp_path / name, format=fmt)
    r, g, b = load_image(tmp_path / name).rgb.getpixel((4, 4))
    assert r <= 10 and g >= 245 and b >= 245


@pytest.mark.parametrize(("name", "kwargs"), [("w.webp", {"lossless": True}), ("t.tiff", {}), ("b.bmp", {})])
def test_other_formats_load_exactly(tmp_path, name, kwargs):
    src = gradient()
    src.save(tmp_path / name, **kwargs)
    pic = load_image(tmp_path / name)
    assert pic.rgb.mode == "RGB" and pic.alpha is None
    assert np.array_equal(rgb(pic.rgb), rgb(src))


def test_exif_orientation_6_rotates(tmp_path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(arr).save(tmp_path / "o.jpg", exif=exif, quality=95)
    pic = load_image(tmp_path / "o.jpg")
    assert pic.rgb.size == (20, 40)
    top, bottom = pic.rgb.getpixel((10, 5)), pic.rgb.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the left edge is now the top
    assert bottom[2] > 200 and bottom[0] < 60


def test_loaded_picture_carries_no_stale_metadata(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "m.png", icc_profile=b"not really a profile", dpi=(300, 300))
    assert load_image(tmp_path / "m.png").rgb.info == {}


# --- loading: refusals ------------------------------------------------------------------------


def _refused(path, **kwargs) -> UserError:
    before = sorted(os.listdir(path.parent)) if path.parent.is_dir() else None
    with pytest.raises(UserError) as info:
        load_image(path, **kwargs)
    err = info.value
    assert err.message and err.hint
    if before is not None:
        assert sorted(os.listdir(path.parent)) == before
    return err


def test_missing_file(tmp_path):
    err = _refused(tmp_path / "nope.png")
    assert err.message == f"no such file: {tmp_path / 'nope.png'}"


def test_directory(tmp_path):
    (tmp_path / "d.png").mkdir()
    assert "directory" in _refused(tmp_path / "d.png").message


def test_empty_file(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    assert "empty" in _refused(tmp_path / "e.png").message


@pytest.mark.parametrize("name", ["t.jpg", "t.png"])
def test_truncated_file(tmp_path, name):
    gradient(200, 200).save(tmp_path / name)
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    assert "truncated" in _refused(tmp_path / name).message


def test_truncated_file_refused_even_if_pillow_told_to_tolerate(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    gradient(200, 200).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    _refused(tmp_path / "t.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("hello, this is text\n")
    assert "not an image" in _refused(tmp_path / "notes.jpg").message


@pytest.mark.parametrize("limit", [5_000, 6_000])  # past Pillow's 2x error line, and in its warning band
def test_bomb_limit(tmp_path, limit):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    before = Image.MAX_IMAGE_PIXELS
    err = _refused(tmp_path / "big.png", max_pixels=limit)
    assert "--max-pixels 10000" in err.hint
    assert "10,000" in err.message
    assert Image.MAX_IMAGE_PIXELS == before


def test_bomb_limit_can_be_raised_or_disabled(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # stricter global than ours
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.png", max_pixels=None).rgb.size == (100, 100)
    assert load_image(tmp_path / "big.png", max_pixels=10_000).rgb.size == (100, 100)
    assert Image.MAX_IMAGE_PIXELS == 1_000
    assert images.DEFAULT_MAX_PIXELS == 178_956_970


# --- tensors and resizing ---------------------------------------------------------------------


def test_tensor_round_trip_exact():
    arr = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    t = to_tensor(Image.fromarray(arr))
    assert t.shape == (1, 3, 17, 23) and t.dtype == torch.float32
    assert 0.0 <= t.min() and t.max() <= 1.0
    assert np.array_equal(np.asarray(to_pil(t)), arr)
    assert np.array_equal(np.asarray(to_pil(t[0])), arr)
    assert np.array_equal(np.asarray(to_pil(t.half())), arr)


def test_to_pil_clamps_and_rounds():
    t = torch.tensor([-1.0, 0.5, 2.0, 0.2]).view(1, 1, 2, 2).expand(1, 3, 2, 2).to(torch.bfloat16)
    out = to_pil(t)
    assert out.mode == "RGB" and out.size == (2, 2)
    assert [out.getpixel(p)[0] for p in [(0, 0), (1, 0), (0, 1)]] == [0, 128, 255]


def test_to_pil_rejects_bad_shapes():
    with pytest.raises(ValueError):
        to_pil(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError):
        to_pil(torch.zeros(1, 4, 4))
    with pytest.raises(TypeError):
        to_pil(torch.zeros(3, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("size", "target", "expected"),
    [((400, 200), 100, (100, 50)), ((200, 400), 100, (50, 100)), ((300, 100), 600, (600, 200)),
     ((1000, 3), 100, (100, 1))],
)
def test_resize_longest_keeps_aspect(size, target, expected):
    out = resize_longest(Image.new("RGB", size), target)
    assert out.size == expected


def test_resize_longest_noop_when_equal():
    img = gradient(64, 32)
    assert np.array_equal(rgb(resize_longest(img, 64)), rgb(img))


# --- output paths -----------------------------------------------------------------------------


def test_check_output_path_accepts(tmp_path):
    for ext in [".png", ".jpg", ".JPEG", ".webp"]:
        assert check_output_path(tmp_path / f"out{ext}") == tmp_path / f"out{ext}"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("make", "name", "words"),
    [
        (lambda d: None, "missing/out.png", "does not exist"),
        (lambda d: (d / "dir.png").mkdir(), "dir.png", "directory"),
        (lambda d: None, "out.gif", "extension"),
        (lambda d: None, "out", "extension"),
        (lambda d: (d / "file").write_text("x"), "file/out.png", "not a directory"),
    ],
)
def test_check_output_path_refuses(tmp_path, make, name, words):
    make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError) as info:
        check_output_path(tmp_path / name)
    assert words in info.value.message and info.value.hint
    assert sorted(os.listdir(tmp_path)) == before


def test_check_output_path_unwritable(tmp_path, monkeypatch):
    monkeypatch.setattr(images.os, "access", lambda *a, **k: False)  # works even when run as root
    with pytest.raises(UserError, match="not writable"):
        check_output_path(tmp_path / "out.png")


def test_check_output_path_existing(tmp_path):
    (tmp_path / "out.png").write_bytes(b"old")
    with pytest.raises(UserError) as info:
        check_output_path(tmp_path / "out.png")
    assert info.value.hint == "pass --force to overwrite"
    assert check_output_path(tmp_path / "out.png", force=True) == tmp_path / "out.png"


def test_default_output_path(tmp_path):
    src = tmp_path / "photo.jpg"
    assert default_output_path(src, "dream") == tmp_path / "photo-dream.png"
    (tmp_path / "photo-dream.png").touch()
    assert default_output_path(src, "dream") == tmp_path / "photo-dream-2.png"
    (tmp_path / "photo-dream-2.png").touch()
    assert default_output_path(src, "dream") == tmp_path / "photo-dream-3.png"
    assert default_output_path(src, "style", ".jpg") == tmp_path / "photo-style.jpg"


# --- saving -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".webp"])
def test_save_formats_and_no_temp_left(tmp_path, ext):
    src = gradient()
    out = save_image(src, tmp_path / f"out{ext}")
    assert out == tmp_path / f"out{ext}"
    assert os.listdir(tmp_path) == [f"out{ext}"]
    with Image.open(out) as img:
        assert img.format == images._FORMATS[ext] and img.size == src.size
    back = load_image(out).rgb
    tolerance = 0 if ext == ".png" else 12
    assert np.abs(rgb(back) - rgb(src)).max() <= tolerance


def test_save_refuses_existing_and_force_replaces(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(UserError) as info:
        save_image(gradient(), target)
    assert "--force" in info.value.hint
    assert target.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["out.png"]
    save_image(gradient(), target, force=True)
    assert load_image(target).rgb.size == (32, 24)
    assert os.listdir(tmp_path) == ["out.png"]


def test_save_loses_race_without_clobbering(tmp_path, monkeypatch):
    # The file appears after the up-front check but before publishing.
    target = tmp_path / "out.png"
    real_check = images.check_output_path

    def check_then_race(path, *, force=False):
        result = real_check(path, force=force)
        target.write_bytes(b"theirs")
        return result

    monkeypatch.setattr(images, "check_output_path", check_then_race)
    with pytest.raises(UserError, match="already exists"):
        save_image(gradient(), target)
    assert target.read_bytes() == b"theirs"
    assert os.listdir(tmp_path) == ["out.png"]


def test_save_failure_removes_temp_and_keeps_old(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def boom(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(UserError, match="could not write"):
        save_image(gradient(), target, force=True)
    assert os.listdir(tmp_path) == ["out.png"]
    assert target.read_bytes() == b"old"


def test_saved_file_permissions_follow_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        out = save_image(gradient(), tmp_path / "out.png")
    finally:
        os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o644


def test_save_does_not_modify_input(tmp_path):
    src = gradient()
    before = src.tobytes()
    save_image(src, tmp_path / "out.png", alpha=Image.new("L", src.size, 7))
    assert src.mode == "RGB" and src.tobytes() == before


SETTINGS = {"mode": "dream", "layers": ["inception4c"], "steps": 20, "lr": 0.01, "note": "café ✓"}


def test_settings_round_trip_png(tmp_path):
    out = save_image(gradient(), tmp_path / "out.png", settings=SETTINGS)
    assert read_settings(out) == SETTINGS
    with Image.open(out) as img:
        assert img.info[images.SETTINGS_KEY] == images.json.dumps(SETTINGS, sort_keys=True)


@pytest.mark.parametrize("ext", [".jpg", ".webp"])
def test_settings_round_trip_exif(tmp_path, ext):
    out = save_image(gradient(), tmp_path / f"out{ext}", settings=SETTINGS)
    assert read_settings(out) == SETTINGS


def test_read_settings_refusals(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_settings(tmp_path / "missing.png")
    plain = save_image(gradient(), tmp_path / "plain.png")
    with pytest.raises(UserError, match="no dreamstyle settings"):
        read_settings(plain)
    (tmp_path / "t.png").write_text("text")
    with pytest.raises(UserError, match="not an image"):
        read_settings(tmp_path / "t.png")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_save_is_deterministic(tmp_path, ext):
    src, alpha = gradient(), Image.new("L", (32, 24), 200)
    a = save_image(src, tmp_path / f"a{ext}", settings=SETTINGS, alpha=alpha)
    b = save_image(src.copy(), tmp_path / f"b{ext}", settings=dict(reversed(SETTINGS.items())), alpha=alpha)
    assert a.read_bytes() == b.read_bytes()


def test_save_alpha_png_and_webp(tmp_path):
    alpha = Image.new("L", (16, 12), 255)
    alpha.paste(0, (0, 0, 8, 12))  # left half transparent, at a different size than the image
    for name in ["a.png", "a.webp"]:
        out = save_image(gradient(), tmp_path / name, alpha=alpha)
        pic = load_image(out)
        assert pic.alpha is not None and pic.alpha.size == (32, 24)
        assert pic.alpha.getpixel((2, 12)) < 10 and pic.alpha.getpixel((29, 12)) > 245


def test_save_alpha_jpeg_composites_on_white(tmp_path):
    black = Image.new("RGB", (16, 16), (0, 0, 0))
    alpha = Image.new("L", (16, 16), 0)
    alpha.paste(255, (8, 0, 16, 16))
    pic = load_image(save_image(black, tmp_path / "a.jpg", alpha=alpha))
    assert pic.alpha is None
    assert min(pic.rgb.getpixel((1, 8))) > 240 and max(pic.rgb.getpixel((14, 8))) < 15


def test_loaded_alpha_round_trips_through_save(tmp_path):
    img = Image.new("RGBA", (8, 8), (10, 20, 30, 255))
    img.putpixel((3, 3), (10, 20, 30, 77))
    img.save(tmp_path / "in.png")
    pic = load_image(tmp_path / "in.png")
    out = load_image(save_image(pic.rgb, tmp_path / "out.png", alpha=pic.alpha))
    assert out.alpha.tobytes() == pic.alpha.tobytes() and out.rgb.tobytes() == pic.rgb.tobytes()
