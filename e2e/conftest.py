"""Browser tests: Debian's Chromium driven by Playwright against a real `linli serve` with the demo data.
One browser for the run, one server per test module, the demo database built once and copied."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINLI = str(ROOT / ".venv" / "bin" / "linli")
AXE = ROOT / "frontend" / "static" / "vendor" / "axe.min.js"
DEMO_PASSWORD = "linli-demo-2026"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # the people who use Linli run their browsers in Chinese
    return {**browser_context_args, "locale": "zh-CN"}


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    env = {**os.environ, "LINLI_DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run([LINLI, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([LINLI, "demo", "load"], env=env, check=True, capture_output=True)
    return path


@dataclass
class Server:
    url: str
    database_url: str
    env: dict

    def linli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run the command line against this server's database (as staff would on the same machine)."""
        return subprocess.run([LINLI, *args], env=self.env, check=check, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    shutil.copy(demo_database, folder / "linli.sqlite3")
    port = _free_port()
    env = {**os.environ, "LINLI_DATABASE_URL": f"sqlite:///{folder / 'linli.sqlite3'}", "LINLI_PORT": str(port),
           "LINLI_BASE_URL": f"http://127.0.0.1:{port}", "LINLI_SECRET_KEY": "e2e" * 22}
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([LINLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text())
            time.sleep(0.1)
    yield Server(url, env["LINLI_DATABASE_URL"], env)
    proc.terminate()
    proc.wait(10)


def sign_in(page, server: Server, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def assert_accessible(page) -> None:
    """axe-core, WCAG 2 A and AA: no violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']})")
    problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert problems == []
