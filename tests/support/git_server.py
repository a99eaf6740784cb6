"""A private git repository over local HTTP ("dumb" protocol) that demands a token."""

from __future__ import annotations

import base64
import functools
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_bare_repo(root: Path) -> Path:
    work = root / "work"
    work.mkdir(parents=True)
    env_git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README.md").write_text("dbt project\n")
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    subprocess.run(env_git + ["-C", str(work), "commit", "-qm", "init"], check=True)
    bare = root / "srv" / "analytics.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    return bare


class _Handler(SimpleHTTPRequestHandler):
    token = ""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        expected = "Basic " + base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()
            return
        super().do_GET()


def serve(directory: Path, token: str):
    handler = functools.partial(type("H", (_Handler,), {"token": token}), directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
