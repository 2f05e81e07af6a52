"""Released models by name (vrnfast.checkpoints.released): downloaded with a progress bar from a loopback HTTP
server the test starts (no network), converted, cached; the cache read with the server stopped;
an interrupted transfer, a corrupted file and a 404 leave nothing a later run would take for the
model; an unknown name lists the known ones."""
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import helpers.torch7 as T
from vrnfast.checkpoints import released as weights
from vrnfast.cli import main

pytest.importorskip("torchfile", reason="converting the authors' model needs the convert extra: pip install 'vrnfast[convert]'")

FILE = "vrn-unguided.t7"


class Server:
    """A bounded HTTP server on 127.0.0.1 (an ephemeral port) serving what the test puts in `files`:
    name -> bytes, or name -> (bytes, bytes to send before closing the connection)."""

    def __init__(self):
        files = self.files = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                entry = files.get(self.path.rsplit("/", 1)[-1])
                if entry is None:
                    self.send_error(404, "Not Found")
                    return
                body, cut = entry if isinstance(entry, tuple) else (entry, len(entry))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))  # the whole size, even when cut short
                self.end_headers()
                self.wfile.write(body[:cut])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 10
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/vrn"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def t7_bytes(tmp_path_factory):
    """The authors' tree (module for module, random weights) as a Torch7 file, in bytes."""
    path = tmp_path_factory.mktemp("t7") / FILE
    T.save(path, T.authors_vrn(T.Style(gain=0.5)))
    return path.read_bytes()


@pytest.fixture
def server(monkeypatch, tmp_path):
    s = Server()
    monkeypatch.setenv("VRNFAST_WEIGHTS_URL", s.url)
    monkeypatch.setenv("VRNFAST_HOME", str(tmp_path / "cache"))
    yield s
    s.stop()


def cache_files(tmp_path):
    folder = tmp_path / "cache"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_first_use_downloads_converts_and_caches_then_the_cache_serves_offline(server, t7_bytes, tmp_path, capsys):
    import torch

    from vrnfast import Reconstructor

    server.files[FILE] = t7_bytes
    main(["fetch", "vrn-unguided"])
    out = capsys.readouterr()
    path = tmp_path / "cache" / "vrn-unguided.pt"
    assert out.out == f"{path}\n" and cache_files(tmp_path) == ["vrn-unguided.pt"]  # the .t7 is not kept
    assert f"download {FILE}" in out.err and "100%" in out.err  # the progress bar reached the end
    ck = torch.load(path, weights_only=True)
    assert (ck["model_name"], ck["preset"], ck["crop_rule"]) == ("vrn", "paper", "vrn-run.sh")
    server.stop()  # later uses touch no network
    assert weights.fetch("vrn-unguided") == path
    rec = Reconstructor("vrn-unguided", device="cpu", precision="float32")
    assert (rec.model_name, rec.preset, rec.z_scale, rec.crop_rule) == ("vrn", "paper", 0.5, "vrn-run.sh")


@pytest.mark.parametrize("how", ["cut short", "corrupted", "404", "no server"])
def test_a_failed_download_says_why_and_leaves_nothing(server, t7_bytes, tmp_path, capsys, monkeypatch, how):
    if how == "cut short":
        server.files[FILE] = (t7_bytes, len(t7_bytes) // 3)
        expect = f"ended after {len(t7_bytes) // 3:,} of {len(t7_bytes):,} bytes|broke off"
    elif how == "corrupted":
        junk = bytearray(t7_bytes)
        junk[len(junk) // 2:] = np.random.default_rng(0).integers(0, 256, len(junk) - len(junk) // 2, np.uint8).tobytes()
        server.files[FILE] = bytes(junk)
        expect = "did not give the authors' model"
    elif how == "404":
        expect = "the server answered 404"
    else:
        server.stop()
        expect = "offline, or the server does not answer"
    with pytest.raises(SystemExit) as e:
        main(["fetch", "vrn-unguided"])
    message = str(e.value.code)
    assert message.startswith("vrnfast fetch: ") and "\n" not in message
    assert re.search(expect, message), message
    assert f"{server.url}/{FILE}" in message and "vrnfast convert" in message  # the URL and the manual route
    assert cache_files(tmp_path) == []  # neither a checkpoint nor a partial download


def test_reconstruct_and_evaluate_take_a_name_and_an_unknown_one_lists_the_known(server, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "a.png")
    with pytest.raises(SystemExit, match=r"vrn-guided: no such file, nor a released model's name \(known: vrn-unguided\)"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", "vrn-guided", "--detector", "none"])
    with pytest.raises(SystemExit, match="the server answered 404"):  # a known name, fetched on first use
        main(["evaluate", "--checkpoint", "vrn-unguided", "--n", "1"])
    with pytest.raises(SystemExit) as e:
        main(["fetch", "vrn-guided"])
    assert e.value.code == 2  # argparse: invalid choice, listing vrn-unguided


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("VRNFAST_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.cache_dir() == tmp_path / "xdg" / "vrnfast"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weights.cache_dir() == tmp_path / "home" / ".cache" / "vrnfast"
    monkeypatch.setenv("VRNFAST_HOME", str(tmp_path / "v"))
    assert weights.cache_dir() == tmp_path / "v"
    monkeypatch.delenv("VRNFAST_WEIGHTS_URL", raising=False)
    assert weights.url_of(weights.RELEASES["vrn-unguided"]) == "https://asjackson.s3.fr-par.scw.cloud/vrn/vrn-unguided.t7"
    monkeypatch.setenv("VRNFAST_WEIGHTS_URL", "http://mirror.example/models/")
    assert weights.url_of(weights.RELEASES["vrn-unguided"]) == "http://mirror.example/models/vrn-unguided.t7"
