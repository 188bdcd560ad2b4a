"""The offline page (open.html): its size, and the time to open a 100 MB compartment in Chromium beside ``age -d``.

Run as ``python benchmarks/bench_offline_open.py [--mb 100] [--runs 3]`` from the repository root. The same age
file (random bytes encrypted by the ``age`` CLI to a fresh X25519 identity) is decrypted by ``age -d`` and, in
headless Chromium from file://, by the page's bundle as open.html does it (the picked file streamed through
age-encryption into memory). Figures are medians; the ratio is printed side by side.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baton.services.offlinepage import SCRIPT, render_offline_page  # noqa: E402

OPEN = """async () => {
  const file = document.getElementById("f").files[0];
  const started = performance.now();
  const d = new globalThis.batonOpen.Decrypter();
  d.addIdentity(document.getElementById("k").textContent.trim());
  const plain = await d.decrypt(file.stream());
  const bytes = new Uint8Array(await new Response(plain).arrayBuffer());
  const took = performance.now() - started;
  const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
    .map((x) => x.toString(16).padStart(2, "0")).join("");
  return { took, digest, size: bytes.length };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    for language in ("en", "id", "pt", "it"):
        page = render_offline_page(language)
        print(f"open.html ({language}): {len(page):,} bytes ({len(page) / 1024:.0f} KiB); "
              f"of which the script {SCRIPT.stat().st_size:,} bytes")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        subprocess.run(["age-keygen", "-o", str(tmp / "key.txt")], check=True, capture_output=True)
        text = (tmp / "key.txt").read_text()
        [secret] = re.findall(r"AGE-SECRET-KEY-1\w+", text)
        [public] = re.findall(r"age1\w+", text)
        plain = os.urandom(args.mb * 1024 * 1024)
        (tmp / "plain").write_bytes(plain)
        subprocess.run(["age", "-r", public, "-o", str(tmp / "compartment.age"), str(tmp / "plain")], check=True)
        expected = hashlib.sha256(plain).hexdigest()
        del plain
        cli = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(["age", "-d", "-i", str(tmp / "key.txt"), "-o", str(tmp / "out"),
                            str(tmp / "compartment.age")], check=True)
            cli.append(time.perf_counter() - started)
            assert hashlib.sha256((tmp / "out").read_bytes()).hexdigest() == expected
        (tmp / "bench.html").write_text(
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>bench</title></head><body>"
            f"<input type='file' id='f'><pre id='k'>{secret}</pre><script>{SCRIPT.read_text()}</script></body></html>")
        browser_times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
            for _ in range(args.runs):
                context = browser.new_context()
                context.set_offline(True)
                tab = context.new_page()
                tab.goto((tmp / "bench.html").as_uri())
                tab.locator("#f").set_input_files(tmp / "compartment.age")
                result = tab.evaluate(OPEN)
                assert result["digest"] == expected and result["size"] == args.mb * 1024 * 1024
                browser_times.append(result["took"] / 1000)
                context.close()
            browser.close()
    a, b = statistics.median(cli), statistics.median(browser_times)
    print(f"{args.mb} MB compartment, median of {args.runs}: age -d {a:.2f} s ({args.mb / a:.0f} MB/s); "
          f"Chromium (open.html's code) {b:.2f} s ({args.mb / b:.0f} MB/s); browser/age = {b / a:.1f}x")
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work on the machine skews both)")


if __name__ == "__main__":
    main()
