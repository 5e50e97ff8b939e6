"""Benchmark: recall and noise of the quarter's inbox on the frozen April–June 2022 web.

Starts the fixture's server (`../shared/fixtures/web-2022q2/serve.py`), runs
`newsletter collect` and `newsletter items --issue 2022-q2 --json` through it as
an HTTPS proxy (the real https URLs, the fixture's CA), and scores the inbox
with the fixture's `score.py` against the editor's picks. The naive baselines
(every item; a regex on title and summary) are printed in the same run for
comparison. The fixture's feeds.yaml carries no keywords: relevance comes from
the tool's own vocabulary.

    python3 bench/relevance.py [--fixture DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURE = ROOT.parent / "shared" / "fixtures" / "web-2022q2"


def start_server(fixture: Path) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(
        [sys.executable, str(fixture / "serve.py"), "--port", "0", "--max-seconds", "900"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=fixture,
    )
    first = server.stdout.readline().strip()
    if not first.startswith("PORT="):
        server.kill()
        raise SystemExit(f"fixture server did not start: {first!r}")
    return server, int(first.split("=", 1)[1])


def newsletter(args: list[str], env: dict, workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE)
    parser.add_argument("--keep", type=Path, help="keep the workspace (with its store) in this directory")
    args = parser.parse_args()
    fixture = args.fixture.resolve()
    if not (fixture / "serve.py").exists():
        raise SystemExit(f"no fixture at {fixture}; pass --fixture")

    workspace = args.keep or Path(tempfile.mkdtemp(prefix="newsletter-relevance-"))
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixture / "feeds.yaml", workspace / "feeds.yaml")
    shutil.copy(ROOT / "newsletter.yaml", workspace / "newsletter.yaml")
    (workspace / "var" / "newsletter.db").unlink(missing_ok=True)

    server, port = start_server(fixture)
    try:
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
        env.update(
            HTTPS_PROXY=f"http://127.0.0.1:{port}",
            HTTP_PROXY=f"http://127.0.0.1:{port}",
            REQUESTS_CA_BUNDLE=str(fixture / "tls" / "ca.pem"),
            PYTHONPATH=str(ROOT),
        )
        started = time.perf_counter()
        collected = newsletter(["collect"], env, workspace)
        collect_seconds = time.perf_counter() - started
        if collected.returncode != 0:
            print(collected.stdout, collected.stderr, sep="\n")
            raise SystemExit("collect failed")
        started = time.perf_counter()
        warm = newsletter(["collect"], env, workspace)
        warm_seconds = time.perf_counter() - started
        if warm.returncode != 0:
            raise SystemExit(f"warm collect failed: {warm.stderr}")
        listed = newsletter(["items", "--issue", "2022-q2", "--json"], env, workspace)
        if listed.returncode != 0:
            raise SystemExit(listed.stderr)
    finally:
        server.terminate()
        server.wait(timeout=10)

    items_json = workspace / "items-2022-q2.json"
    items_json.write_text(listed.stdout, encoding="utf-8")
    print(
        f"collect through the fixture proxy: cold {collect_seconds:.1f} s, warm {warm_seconds:.1f} s "
        f"(workspace {workspace})\n"
    )
    print("== the tool's inbox for 2022-q2")
    score = subprocess.run([sys.executable, str(fixture / "score.py"), str(items_json)], capture_output=True, text=True)
    print(score.stdout.strip())
    print("\n== baselines (naive inboxes, same web)")
    baseline = subprocess.run([sys.executable, str(fixture / "score.py"), "--baseline"], capture_output=True, text=True)
    text = baseline.stdout.strip() or baseline.stderr.strip()
    # Only the closing summary table: the per-baseline details are in score.py --baseline.
    print(text[text.rfind("\nsummary") + 1 :] if "\nsummary" in text else text)
    if not args.keep:
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    main()
