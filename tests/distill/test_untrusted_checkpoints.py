"""A Lightning checkpoint is a pickle: reading one must never run code, from a URL or a file.

The hostile checkpoint below creates a marker folder when unpickled with weights_only=False
(checked first, so the test can fail). Every command that reads a Lightning checkpoint is
given it, served from a local HTTP server and as a local file: each exits 2 with one line,
the marker never appears, and the server is never even asked for it.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from typing import ClassVar

import pytest
import torch

from actor_mimic.cli import main


class RunsCode:
    """Unpickling this calls os.mkdir(marker): code run by merely loading the file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(folder holding hostile.ckpt, the marker path its unpickling would create)."""
    folder = tmp_path_factory.mktemp("hostile")
    marker = folder / "code-ran"
    payload = {"state_dict": {}, "hyper_parameters": {"tasks": RunsCode(str(marker))}, "global_step": 1}
    torch.save(payload, folder / "hostile.ckpt")
    # The control: loading it the unsafe way does run the code.
    torch.load(folder / "hostile.ckpt", weights_only=False)
    assert marker.is_dir()
    marker.rmdir()
    return folder, marker


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self):
        CountingHandler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(hostile):
    """The hostile checkpoint at http://127.0.0.1:PORT/hostile.ckpt (a server this test runs)."""
    folder, _ = hostile
    handler = functools.partial(CountingHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hostile.ckpt"
    httpd.shutdown()
    thread.join()


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "distill.yaml"
    path.write_text(
        "data:\n  games: [{game: pong, stores: [pong.zarr]}]\n  num_workers: 0\n"
        f"trainer:\n  default_root_dir: {tmp_path / 'runs'}\n"
    )
    return str(path)


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_the_server_serves_the_hostile_checkpoint(server, hostile):
    """The URL is live: anything that fetched it would get the pickle."""
    import urllib.request

    with urllib.request.urlopen(server) as response:
        assert response.read() == (hostile[0] / "hostile.ckpt").read_bytes()
    CountingHandler.requests.clear()


@pytest.mark.parametrize(
    "argv",
    [
        ["distill", "fit", "--config", "{config}", "--ckpt_path", "{ckpt}"],
        ["distill", "validate", "--config", "{config}", "--ckpt_path", "{ckpt}"],
        ["distill", "test", "--config", "{config}", "--ckpt_path", "{ckpt}"],
        ["distill", "export", "{ckpt}", "--out", "{tmp}/amn.safetensors"],
        [
            "distill",
            "round",
            "--config",
            "{config}",
            "--ckpt_path",
            "{ckpt}",
            "--amn",
            "a.safetensors",
            "--experts",
            "e.safetensors",
            "--round",
            "r1",
            "--steps",
            "10",
            "--out-dir",
            "{tmp}/r",
            "--more-steps",
            "1",
        ],
    ],
    ids=["fit", "validate", "test", "export", "round"],
)
@pytest.mark.parametrize("where", ["url", "file"])
def test_a_hostile_lightning_checkpoint_runs_nothing(capsys, tmp_path, config, server, hostile, argv, where):
    folder, marker = hostile
    ckpt = server if where == "url" else str(folder / "hostile.ckpt")
    before = sorted(tmp_path.rglob("*"))
    argv = [a.format(config=config, ckpt=ckpt, tmp=tmp_path) for a in argv]
    err = one_line_error(capsys, argv)
    if where == "url":
        assert "is a URL: Lightning checkpoints are pickles" in err
    else:
        assert "not a loadable Lightning checkpoint (it holds objects that only unpickling code" in err
    assert not marker.exists()
    assert CountingHandler.requests == []  # nothing was even downloaded
    assert sorted(tmp_path.rglob("*")) == before


def test_weights_only_cannot_be_turned_off(capsys, config, tmp_path):
    """LightningCLI offers --weights_only; turning it off is refused, even for a harmless file."""
    harmless = tmp_path / "harmless.ckpt"
    torch.save({"pytorch-lightning_version": "2.6.0", "global_step": 0, "epoch": 0, "state_dict": {},
                "hyper_parameters": {"tasks": {"games": ["pong"]}}}, harmless)  # fmt: skip
    argv = ["distill", "fit", "--config", config, "--ckpt_path", str(harmless), "--weights_only", "false"]
    assert "--weights_only false is refused" in one_line_error(capsys, argv)
