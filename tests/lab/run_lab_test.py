"""Real-browser test of the session explorer (``make test-lab``; not collected by pytest).

1. Installs Debian's ``chromium`` when missing (``apt-get``; needs root).
2. Starts JupyterLab from the project venv on a free loopback port with a random token and
   throw-away runtime/settings/workspace folders.
3. Drives headless Chromium with Playwright (``executable_path=/usr/bin/chromium``; no browser is
   downloaded), opens ``notebooks/00-explore-session.ipynb`` on the ``therapy-turns`` kernel and
   runs all cells.
4. Checks the live explorer: the widget is shown (not the static fallback), the transcript shows
   as many ``.tt-turn`` and ``.tt-code`` elements as the analysis tables say for the seed
   session, evidence is on hover, transcript text is escaped; the speaker filter and the session
   picker re-render it.
5. Saves ``reports/lab-explorer.png`` and shuts JupyterLab down (REST call, then the process
   group is terminated/killed in a ``finally``). Every wait has a timeout; the whole run is
   bounded by ``--timeout`` seconds (default 900).

Exit status 0 on success, 1 on a failed check, 2 on a setup problem.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOTEBOOK = "notebooks/00-explore-session.ipynb"
SESSION = "004_13ba406fadc02f9e"  # the parameters cell's default session
OTHER = "000_9fc736dfb9bb5c37"
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"]


class Timeout(Exception):
    """The whole run took longer than allowed."""


def log(msg: str) -> None:
    print(f"[test-lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ensure_chromium() -> str:
    """Path of Debian's chromium, installing it with apt-get when missing (root only)."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("chromium is missing and this is not root: "
                         "run `sudo apt-get install -y chromium` first")
    log("installing Debian's chromium (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env,
                   timeout=900)
    return shutil.which("chromium") or CHROMIUM


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expected_counts(session: str) -> dict[str, int]:
    """Turns, patient turns and code tags the explorer must show, from the analysis tables."""
    sys.path.insert(0, str(ROOT / "src"))
    from therapy_turns.report import explorer

    data = explorer.load_data("seeds", "build/seeds")
    t = explorer.session_table(data, session)
    return {"turns": len(t), "patient": int((t["speaker"] == "patient").sum()),
            "codes": int(sum(len(c) for c in t["codes"]))}


def start_lab(port: int, token: str, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "MPLBACKEND": "Agg",
           "PYTHONHASHSEED": "0"}
    cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--LabApp.expose_app_in_browser=True",
           "--ServerApp.shutdown_no_activity_timeout=900"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    logf = open(tmp / "jupyterlab.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(base: str, token: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"JupyterLab exited early with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"JupyterLab not ready after {timeout:.0f} s")


def stop_lab(base: str, token: str, proc: subprocess.Popen) -> None:
    """Shut JupyterLab down politely, then terminate and kill its process group."""
    if proc.poll() is None:
        try:
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST",
                                         headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(req, timeout=10).close()
            proc.wait(timeout=20)
        except (urllib.error.URLError, ConnectionError, TimeoutError,
                subprocess.TimeoutExpired):
            pass
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)  # the server and its kernels (same new session)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    log(f"JupyterLab stopped (status {proc.poll()})")


def check(cond: bool, what: str, failures: list[str]) -> None:
    log(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def drive(base: str, token: str, chromium: str, tmp: Path, expect: dict[str, int],
          shot: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"), executable_path=chromium, headless=True,
            args=CHROME_ARGS, viewport={"width": 1600, "height": 1150})
        try:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}&reset",
                      wait_until="domcontentloaded")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=90_000)
            # kernel started and idle
            page.wait_for_function(
                """() => { const w = window.jupyterapp.shell.currentWidget;
                   const k = w && w.sessionContext && w.sessionContext.session &&
                             w.sessionContext.session.kernel;
                   return k && k.name === 'therapy-turns' && k.status === 'idle'; }""",
                timeout=120_000)
            log("notebook open, kernel therapy-turns idle; running all cells")
            page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')"
                          " .catch(() => {})")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(
                """() => { const w = window.jupyterapp.shell.currentWidget;
                   const cells = w.content.widgets.filter(c => c.model.type === 'code');
                   const k = w.sessionContext.session.kernel;
                   return cells.every(c => c.model.executionCount !== null) &&
                          k.status === 'idle'; }""", timeout=600_000)
            check(page.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0,
                  "all cells ran without an error", failures)
            widget = page.locator(".tt-widget")
            widget.first.wait_for(timeout=60_000)
            check(widget.count() == 1, "the interactive explorer widget is shown", failures)
            ex = page.locator(".tt-explorer")
            check(ex.count() == 1, "exactly one rendered session (no duplicate static copy)",
                  failures)
            check(ex.first.get_attribute("data-session") == SESSION, f"session {SESSION} shown",
                  failures)
            n_turns = page.locator(".tt-explorer .tt-turn").count()
            n_codes = page.locator(".tt-explorer .tt-code").count()
            check(n_turns == expect["turns"], f"{n_turns} turns rendered, "
                  f"expected {expect['turns']}", failures)
            check(n_codes == expect["codes"], f"{n_codes} code tags rendered, "
                  f"expected {expect['codes']}", failures)
            title = page.locator(".tt-explorer .tt-code").first.get_attribute("title") or ""
            check(":" in title and "no evidence" not in title, f"evidence on hover: {title[:70]!r}",
                  failures)
            check(page.locator(".tt-explorer script").count() == 0,
                  "no script element inside the transcript", failures)
            check(page.locator(".tt-explorer .tt-flag[data-flag=generation_error]").count() == 1,
                  "the generation-error turn is marked", failures)
            check(page.locator(".tt-explorer img.tt-figure").count() == 1,
                  "trajectory/timeline figure beside the transcript", failures)
            try:  # JupyterLab's "official Jupyter news?" toast would cover the screenshot
                page.locator(".jp-toast-button", has_text="No").first.click(timeout=3_000)
            except Exception:  # no toast shown: nothing to dismiss
                pass
            ex.first.scroll_into_view_if_needed()
            page.locator(".tt-widget").first.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            log(f"screenshot {shot.relative_to(ROOT)}")
            # filters re-render through the kernel
            page.locator(".tt-widget .widget-toggle-buttons button",
                         has_text="patient").first.click()
            page.wait_for_function(
                f"document.querySelectorAll('.tt-explorer .tt-turn').length === "
                f"{expect['patient']}", timeout=60_000)
            check(True, f"speaker filter: {expect['patient']} patient turns", failures)
            page.locator(".tt-widget select").first.select_option(OTHER)
            page.wait_for_function(
                f"document.querySelector('.tt-explorer').dataset.session === '{OTHER}'",
                timeout=60_000)
            check(True, f"session picker re-renders {OTHER}", failures)
        except Exception:
            fail_shot = shot.with_name(shot.stem + "-failure.png")
            page.screenshot(path=str(fail_shot))
            log(f"failure screenshot {fail_shot.relative_to(ROOT)}; "
                f".tt-explorer elements: {page.locator('.tt-explorer').count()}")
            raise
        finally:
            ctx.close()
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=int, default=900, help="bound on the whole run (s)")
    ap.add_argument("--screenshot", default="reports/lab-explorer.png")
    args = ap.parse_args(argv)
    chromium = ensure_chromium()
    try:
        import playwright  # noqa: F401
    except ImportError:
        log("playwright is not installed in the venv: `make setup` (dev extra) installs it")
        return 2

    def on_alarm(signum: int, frame: object) -> None:
        raise Timeout(f"test-lab exceeded {args.timeout} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.timeout)
    expect = expected_counts(SESSION)
    log(f"expected for {SESSION}: {expect}")
    port, token = free_port(), os.urandom(16).hex()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tt-lab-") as t:
        tmp = Path(t)
        proc = start_lab(port, token, tmp)
        try:
            wait_ready(base, token, proc)
            log(f"JupyterLab up on {base}")
            failures = drive(base, token, chromium, tmp, expect, ROOT / args.screenshot)
        except Timeout as e:
            failures = [str(e)]
        except Exception as e:  # a failed wait or selector: report it, still clean up
            failures = [f"{type(e).__name__}: {str(e).splitlines()[0]}"]
        finally:
            signal.alarm(0)
            stop_lab(base, token, proc)
            if failures:
                log("JupyterLab log tail:\n" + "\n".join(
                    (tmp / "jupyterlab.log").read_text(errors="replace").splitlines()[-25:]))
    if failures:
        log(f"{len(failures)} check(s) failed: {failures}")
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
