"""The studio's Explore view: its API (a network's table as `layers` prints it, 404s that say what
exists, a layer's pictures as an event stream and a cached revisit), and in a real browser the walk
of issue 27: the networks, efficientnet-lite0's table, a layer's grid filling in, a channel's
page with its map on a photo, the keys, a reload of the same URL and the 404 page.

The pictures are the explorer core's (engines/explore.py); here they are made small (48 px) so
the walk takes seconds.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image
from starlette.testclient import TestClient

from studio_api import SAMPLES, stream, upload
from studio_harness import TIMEOUT_MS, browser, browser_or_skip, open_page, serve_studio, tid

MODEL, LAYER = "efficientnet-lite0", "block6"
HOST = "http://127.0.0.1:7860"
SMALL = {"size": "48", "count": "4"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMSTYLE_OFFLINE", "1")
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))  # no weights: torchvision's are random
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))  # the user's shared render cache: empty
        yield mp


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("explore-out")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The samples as the folder of top images (a copy: its index is written beside them), with
    one file that is not a picture."""
    import shutil

    folder = tmp_path_factory.mktemp("photos")
    for p in SAMPLES.glob("*.jpg"):
        shutil.copy(p, folder / p.name)
    (folder / "broken.jpg").write_bytes(b"not a picture")
    return folder


@pytest.fixture(scope="module")
def client(env, out, photos):
    from dreamstyle.studio.app import create_app

    with TestClient(create_app(out, top_folder=photos), base_url=HOST) as c:
        yield c


# --- the API ----------------------------------------------------------------------------------

def test_the_index_is_the_table_layers_prints(client):
    from dreamstyle.models.inspector import report
    from dreamstyle.models.zoo import network

    printed = json.loads(report(network(MODEL), 224, as_json=True))["layers"]
    res = client.get(f"/api/explore/{MODEL}")
    assert res.status_code == 200, res.text
    index = res.json()
    assert index["model"] == MODEL and index["trained"] is True
    keys = ("name", "shape", "params", "flops", "stride", "receptive_field")
    assert [{k: r[k] for k in keys} for r in index["layers"]] == [{k: r[k] for k in keys} for r in printed]


def test_the_networks_are_listed_and_untrained_ones_said(client):
    models = {m["name"]: m for m in client.get("/api/explore").json()["models"]}
    assert models[MODEL]["trained"] is True and models[MODEL]["kind"] == "backbone"
    assert models["lenet"]["trained"] is False and models["lenet"]["kind"] == "course"
    assert models["resnet18"]["trained"] is False and models["resnet18"]["kind"] == "torchvision"


@pytest.mark.parametrize("path, field, hint", [
    (f"/api/explore/efficientnet-lite1", "model", "efficientnet-lite0"),
    (f"/api/explore/{MODEL}/blok6", "layer", "block6"),
    (f"/api/explore/{MODEL}/{LAYER}/80", "channel", "0 to 79"),
    (f"/api/explore/{MODEL}/{LAYER}/x", "channel", "0 to 79"),
    (f"/api/explore/{MODEL}/blok6/events", "layer", "block6"),
])  # fmt: skip
def test_an_unknown_model_layer_or_channel_is_a_404_that_says_what_exists(client, path, field, hint):
    res = client.get(path)
    assert res.status_code == 404 and res.headers["content-type"].startswith("application/json"), res.text
    body = res.json()
    assert set(body) == {"error", "hint", "field"}  # the studio's every error
    assert body["field"] == field and hint in body["hint"]


def test_an_unknown_page_is_a_404_page_with_links_to_what_exists(client):
    res = client.get(f"/explore/{MODEL}/blok6")
    assert res.status_code == 404 and res.headers["content-type"].startswith("text/html")
    assert "block6" in res.text and f"href='/explore/{MODEL}/block6'" in res.text
    assert client.get(f"/explore/{MODEL}/{LAYER}/3").status_code == 200
    assert client.get("/explore/nonet").status_code == 404


@pytest.mark.parametrize("query, field", [("kind=sideways", "kind"), ("size=4", "size"), ("count=0", "count"), ("start=-1", "start")])
def test_a_bad_request_for_pictures_is_refused_with_its_field(client, query, field):
    res = client.get(f"/api/explore/{MODEL}/{LAYER}/events?{query}")
    assert res.status_code == 400 and res.json()["field"] == field, res.text


def test_a_layer_streams_one_picture_per_channel_and_a_revisit_is_cached(client):
    url = f"/api/explore/{MODEL}/block1/events?start=2&count=4&size=48"
    seen = stream(client, url)
    pictures = [d for n, d in seen if n == "picture"]
    assert sorted(p["channel"] for p in pictures) == [2, 3, 4, 5]
    assert seen[-1] == ("end", {"count": 4})
    for p in pictures:
        res = client.get(p["url"])
        assert res.status_code == 200 and res.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(res.content)) as img:
            assert max(img.size) >= 48
    start = time.perf_counter()
    again = stream(client, url)
    served = client.get(pictures[0]["url"])
    took = time.perf_counter() - start
    assert [d for n, d in again if n == "picture"] and served.status_code == 200
    assert took < 2.0, f"a cached revisit took {took:.2f} s"  # ~0.05 s here; the measured number is in docs/studio.md


PENDING = "for the core: "


@pytest.mark.cpu("the command's picture is byte-identical to the studio's on the CPU")
@pytest.mark.parametrize("kind, count, size", [
    ("channel", 1, 48), ("large", 1, 80), ("negative", 1, 80),
    pytest.param("channel", 4, 48, marks=pytest.mark.xfail(reason=PENDING + "a grid's channels are rendered in one batch, "
                                                           "and a channel's picture depends on the batch it was in")),
    ("diverse", 1, 48),
])  # fmt: skip
def test_a_pictures_command_line_makes_that_picture(client, tmp_path, monkeypatch, kind, count, size):
    from typer.testing import CliRunner

    from dreamstyle.cli import app as cli

    channel = {1: 10, 4: 13}[count]  # one no other test renders: alone, or the first of a batch as the grid asks
    seen = stream(client, f"/api/explore/{MODEL}/block1/events?start={channel}&count={count}&size={size}&kind={kind}")
    shown = client.get([d for n, d in seen if n == "picture" and d["channel"] == channel][0]["url"]).content
    command = client.get(f"/api/explore/{MODEL}/block1/{channel}?size=48").json()["commands"][kind]
    assert command.startswith("dreamstyle explore ") and f"--size {size}" in command
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, command.split()[1:] + ["--quiet"])
    assert res.exit_code == 0, res.output
    with Image.open(io.BytesIO(shown)) as a, Image.open(tmp_path / command.split(" -o ")[1]) as b:
        assert a.size == b.size and a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


def test_leaving_a_page_stops_its_renders(env, tmp_path):
    """A page left mid-render frees the network for the next page: 64 channels at 256 px would
    hold it for minutes; its stream closed, another layer's picture comes in seconds."""
    import urllib.request

    pytest.importorskip("uvicorn")
    with serve_studio(tmp_path) as url:
        base = url.rstrip("/") + f"/api/explore/{MODEL}"
        with urllib.request.urlopen(f"{base}/block6/events?count=64&size=256") as first:
            assert first.readline() == b"event: start\n"
            time.sleep(1.5)  # rendering now
        start = time.perf_counter()
        with urllib.request.urlopen(f"{base}/block0/events?count=1&size=32", timeout=120) as second:
            assert any(line.startswith(b"event: picture") for line in second)
        assert time.perf_counter() - start < 30


def test_the_first_convolution_shows_its_kernels(client):
    index = client.get(f"/api/explore/{MODEL}").json()
    first = index["first_conv"]
    assert first == "stem"
    kernels = client.get(f"/api/explore/{MODEL}/{first}").json()["kernels"]
    res = client.get(kernels)
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    assert client.get(f"/api/explore/{MODEL}/block1").json()["kernels"] is None
    assert client.get(f"/api/explore/{MODEL}/block1/kernels.png").status_code == 404


def test_a_network_with_random_weights_shows_its_table_and_says_it_has_no_pictures(client):
    index = client.get("/api/explore/resnet18").json()
    assert index["trained"] is False and index["layers"] and not index["renders"]
    layer = next(r["name"] for r in index["layers"] if r["channels"])
    seen = stream(client, f"/api/explore/resnet18/{layer}/events?count=2")
    assert [n for n, _ in seen] == ["start", "note", "end"] and "random weights" in seen[1][1]["message"]


def test_pictures_a_site_rendered_into_the_shared_cache_are_shown_at_once(env, tmp_path):
    from dreamstyle.engines.explore import default_cache, explore_context, network_index, render_channels
    from dreamstyle.studio.app import create_app

    made = {}
    render_channels(explore_context(MODEL), network_index(MODEL), "block0", [5], default_cache(), size=32, on_done=made.__setitem__)
    with TestClient(create_app(tmp_path), base_url=HOST) as c:
        seen = stream(c, f"/api/explore/{MODEL}/block0/events?start=5&count=1&size=32")
        pictures = [d for n, d in seen if n == "picture"]
        assert len(pictures) == 1 and c.get(pictures[0]["url"]).content == made[5].read_bytes()
    assert not (tmp_path / ".explore").exists() or not any((tmp_path / ".explore").rglob("*.png"))  # shown, not rendered again


def test_a_cache_that_cannot_be_written_still_shows_the_pictures_with_a_note(env, tmp_path, photos):
    from dreamstyle.studio.app import create_app

    (tmp_path / ".explore").write_text("a file where the cache's folder would be")
    with TestClient(create_app(tmp_path), base_url=HOST) as c:
        seen = stream(c, f"/api/explore/{MODEL}/block0/events?count=2&size=32")
        pictures = [d for n, d in seen if n == "picture"]
        assert [p["channel"] for p in pictures] == [0, 1]
        assert all(c.get(p["url"]).status_code == 200 for p in pictures)
        notes = [d["message"] for n, d in seen if n == "note"]
        assert notes and "cannot be written" in notes[0]
        assert "cannot be written" in c.get(f"/api/explore/{MODEL}/block0").json()["note"]


def test_without_a_top_folder_the_uploaded_photos_are_ranked(env, tmp_path):
    from dreamstyle.studio.app import create_app

    with TestClient(create_app(tmp_path), base_url=HOST) as c:
        assert c.get(f"/api/explore/{MODEL}/block1/0/top").json()["images"] == []  # nothing uploaded yet
        assert c.get(f"/api/explore/{MODEL}/block1/0").json()["top_folder"] is None
        ids = {upload(c, "cat.jpg"), upload(c, "coffee.jpg")}
        top = c.get(f"/api/explore/{MODEL}/block1/0/top").json()
        assert {t["name"].split(".")[0] for t in top["images"]} == ids and top["folder"] == ".uploads"


def test_a_channel_page_has_its_commands_top_images_and_map_on_a_photo(client, photos):
    info = client.get(f"/api/explore/{MODEL}/block1/3").json()
    assert info["channel"] == 3 and info["channels"] == 24 and info["top_folder"] == photos.name
    assert set(info["commands"]) == {"channel", "large", "negative", "diverse", "top"}  # top: with the folder it ranks
    assert all("block1" in c for c in info["commands"].values())
    top = client.get(f"/api/explore/{MODEL}/block1/3/top").json()
    assert top["images"] and all(t["url"].startswith("/api/explore/top/") for t in top["images"])
    assert str(photos) not in json.dumps(top)  # the server's paths stay on the server
    assert top["skipped"] == 1 and top["total"] == len(list(photos.glob("*.jpg"))), top  # broken.jpg: skipped and counted
    assert client.get(top["images"][0]["url"]).status_code == 200
    photo = upload(client, "cat.jpg")
    res = client.post(f"/api/explore/{MODEL}/block1/3/photo", json={"image": f"upload:{photo}"})
    assert res.status_code == 200 and res.headers["content-type"] == "image/png", res.text
    assert client.post(f"/api/explore/{MODEL}/block1/3/photo", json={"image": "/etc/passwd"}).status_code == 400


# --- the walk, in a real browser -------------------------------------------------------------

@pytest.fixture(scope="module")
def studio(env, photos, tmp_path_factory):
    pytest.importorskip("uvicorn")
    out = tmp_path_factory.mktemp("explore-browser-out")
    with serve_studio(out, top_folder=photos) as url:
        yield url


@pytest.fixture(scope="module")
def context():
    with browser(browser_or_skip()) as ctx:
        yield ctx


def shoot(page, request, name: str) -> None:
    """A screenshot of the view in .pytest_cache/d/explore-screens/ (to look at; the docs' own come
    from there), unless pytest runs without its cache."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return
    folder = cache.mkdir("explore-screens")
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_the_walk_from_the_networks_to_one_channel(studio, context, request):
    page = open_page(context, studio + "explore?" + "&".join(f"{k}={v}" for k, v in SMALL.items()))
    page.click(tid(f"model-{MODEL}"))
    page.wait_for_selector(tid(f"layer-{LAYER}"))
    assert page.url.endswith(f"/explore/{MODEL}?size=48&count=4")
    assert page.locator(tid("random-weights")).is_hidden()  # lite0's weights are bundled
    shoot(page, request, "model")
    row = page.locator(tid("layer-block1"))
    assert row.locator("td").nth(1).inner_text() == "24×56×56"
    row.locator("td").nth(2).click()  # anywhere on the row
    page.wait_for_url(f"**/explore/{MODEL}/block1?size=48&count=4")
    page.wait_for_selector("body[data-ready=true]")
    # The grid fills in: four 48 px thumbnails, then four more on asking.
    page.wait_for_function("document.querySelectorAll(\"[data-testid='thumb-img']\").length >= 4", timeout=TIMEOUT_MS)
    assert page.evaluate("[...document.querySelectorAll(\"[data-testid='thumb-img']\")].every(i => i.complete && i.naturalWidth >= 48)")
    page.click(tid("more"))
    page.wait_for_function("document.querySelectorAll(\"[data-testid='thumb-img']\").length >= 8", timeout=TIMEOUT_MS)
    shoot(page, request, "layer")
    # ↓ goes to the next layer, ↑ back.
    page.keyboard.press("ArrowDown")
    page.wait_for_url(f"**/explore/{MODEL}/block2?*")
    page.wait_for_selector("body[data-ready=true]")
    page.keyboard.press("ArrowUp")
    page.wait_for_url(f"**/explore/{MODEL}/block1?*")
    page.wait_for_selector(f"{tid('thumb-2')} img")
    page.click(tid("thumb-2"))
    page.wait_for_url(f"**/explore/{MODEL}/block1/2?*")
    for shown in ("unit-large-img", "unit-negative-img", "unit-diverse-img", "top-img"):
        page.wait_for_selector(tid(shown), timeout=TIMEOUT_MS)
    assert "--layers block1 --channels 2 --kind large" in page.inner_text(tid("command-large"))
    assert "--size 48" in page.inner_text(tid("command-channel"))  # the command makes the picture shown
    page.set_input_files(tid("photo-input"), SAMPLES / "cat.jpg")
    page.wait_for_selector(tid("photo-map"), timeout=TIMEOUT_MS)
    page.wait_for_function("document.querySelector(\"[data-testid='photo-map']\").naturalWidth > 0")
    shoot(page, request, "unit")
    # → the next channel; the URL is the page: a reload shows the same one.
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/explore/{MODEL}/block1/3?*")
    page.wait_for_selector(tid("unit-large-img"), timeout=TIMEOUT_MS)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text(tid("here")) == "channel 3"
    page.wait_for_selector(tid("unit-large-img"), timeout=TIMEOUT_MS)
    page.keyboard.press("ArrowDown")  # the same channel of the next layer
    page.wait_for_url(f"**/explore/{MODEL}/block2/3?*")
    page.wait_for_selector("body[data-ready=true]")
    # The search box: "block6/12" goes to that channel.
    page.fill(tid("search"), "block6/12")
    page.press(tid("search"), "Enter")
    page.wait_for_url(f"**/explore/{MODEL}/block6/12?*")
    page.wait_for_selector("body[data-ready=true]")
    assert page.problems == [], page.problems
    # A layer that does not exist: a 404 page naming the ones that do.
    res = page.goto(studio + f"explore/{MODEL}/blok6")
    assert res.status == 404
    assert "block6" in page.inner_text(tid("not-found"))
    assert page.problems == ["console error: Failed to load resource: the server responded with a status of 404 (Not Found)"], page.problems
    page.problems.clear()  # that one was asked for
    page.click(f"a[href='/explore/{MODEL}/block6']")
    page.wait_for_selector("body[data-ready=true]")
    shoot(page, request, "layer-block6")
    # The studio's main page links here, and back.
    page.goto(studio)
    page.wait_for_selector("body[data-ready=true]")
    page.click(tid("nav-explore"))
    page.wait_for_selector(tid(f"model-{MODEL}"))
    shoot(page, request, "models")
    # A network without trained weights here: its table, said to be random, and no pictures.
    page.click(tid("model-resnet18"))
    page.wait_for_selector(tid("layer-table"))
    assert page.locator(tid("random-weights")).is_visible()
    page.locator(f"{tid('layer-table')} tbody tr").nth(1).click()
    page.wait_for_selector(tid("no-pictures"))
    assert page.locator(tid("grid")).count() == 0
    shoot(page, request, "random")
    assert page.problems == [], page.problems


def test_the_top_folder_is_chosen_when_the_studio_starts_and_must_be_a_folder(tmp_path):
    from typer.testing import CliRunner

    from dreamstyle.cli import app as cli

    res = CliRunner().invoke(cli, ["studio", "--out", str(tmp_path), "--top-folder", str(tmp_path / "none"), "--no-open"])
    assert res.exit_code == 2 and "--top-folder" in res.output and "is not a folder" in res.output
