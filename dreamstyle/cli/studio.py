"""`dreamstyle studio`: the local web page, served until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app
from .common import examples, fail, guarded


@app.command(epilog=examples(
    "dreamstyle studio",
    "dreamstyle studio --out my-pictures --port 8000 --no-open",
    "dreamstyle studio --top-folder ~/photos         # Explore: a channel's strongest pictures from there",
    "dreamstyle studio --host 0.0.0.0            # other machines: a token in the printed URL",
))
@guarded
def studio(
    out: Annotated[Path, typer.Option(help="Folder the pictures go to; the gallery shows every picture there that dreamstyle made.")] = Path("outputs"),
    host: Annotated[str, typer.Option(help="Address to listen on. Anything but 127.0.0.1/localhost needs the token printed in the URL.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    top_folder: Annotated[Optional[Path], typer.Option(help="Folder of pictures the Explore view ranks for a channel's strongest images (default: the studio's uploads).")] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in the web browser.")] = True,
) -> None:
    """A local web page to make pictures and watch them form: upload, pick an engine and settings,
    see the picture change step by step, stop, queue, and go back to everything in the gallery."""
    import secrets
    import socket
    import threading
    import webbrowser

    import uvicorn

    from ..studio.app import LOOPBACK_NAMES, create_app

    if not 1 <= port <= 65535:
        fail(f"--port {port} is out of range", "use 1 to 65535, e.g. --port 7860")
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file", "give a folder")
    if not out.exists() and not out.parent.is_dir():
        fail(f"--out folder {out.parent} does not exist", f"create it first: mkdir -p {out.parent}")
    if top_folder is not None and not top_folder.is_dir():
        fail(f"--top-folder {top_folder} is not a folder", "give a folder of pictures, e.g. --top-folder samples")
    loopback = host in LOOPBACK_NAMES
    token = None if loopback else secrets.token_urlsafe(24)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror or exc})", f"is another studio running? try --port {port + 1}")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    typer.echo(f"dreamstyle studio: {url}  (pictures in {out.resolve()}; Ctrl-C to stop)", err=True)
    if open_browser:
        webbrowser.open(url)
    studio_app = create_app(out, token=token, loopback=loopback, top_folder=top_folder)
    server = uvicorn.Server(uvicorn.Config(studio_app, host=host.strip("[]"), port=port, log_level="warning"))
    exit_server = server.handle_exit

    def handle_exit(sig, frame) -> None:
        # Ctrl-C: the running job stops after its step (kept as interrupted, the queue stays on
        # disk) and the open event streams end, so the server need not wait for the job to finish.
        # From a thread: the signal may have interrupted the holder of the worker's lock.
        threading.Thread(target=studio_app.state.worker.begin_close, daemon=True).start()
        exit_server(sig, frame)

    server.handle_exit = handle_exit
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn raises the signal it caught again once it has shut down
        pass
