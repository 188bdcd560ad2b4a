"""The offline page's own code runs the reference vectors inside Chromium: SLIP-39 (trezor/python-shamir-mnemonic)
and the C2SP age vectors (CCTV), through the committed bundle (templates/static/open.js) loaded in a page.

age-encryption (typage) supports no ssh identities and refuses scrypt work factors above 20; all 143 vectors
behave as specified there. Any departure would be pinned below, so a change in the library shows up here.
The scrypt vectors make this the slowest browser test (minutes on a busy two-core machine)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

from browser_support import Visit

from baton.services.offlinepage import SCRIPT

VECTORS = Path(__file__).resolve().parents[1] / "vault" / "vectors"

# Vectors whose outcome in typage 0.3.1 differs from the one they expect, with typage's outcome: none
# (post-quantum hybrids included; pyrage has four gaps and no hybrids, tests/vault/test_age_vectors.py).
TYPAGE_GAPS: dict[str, str] = {}

RUN_AGE = """async (vectors) => {
  const { Decrypter, armor, generateIdentity } = globalThis.batonOpen;
  const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
  const out = [];
  for (const v of vectors) {
    try {
      let file = Uint8Array.from(atob(v.file), (c) => c.charCodeAt(0));
      if (v.armored) file = armor.decode(new TextDecoder().decode(file));
      const d = new Decrypter();
      for (const p of v.passphrases) d.addPassphrase(p);
      for (const i of v.identities) d.addIdentity(i);
      if (!v.passphrases.length && !v.identities.length) d.addIdentity(await generateIdentity());
      const plain = await d.decrypt(file);
      out.push({ name: v.name, outcome: "success", payload: hex(await crypto.subtle.digest("SHA-256", plain)) });
    } catch (error) {
      out.push({ name: v.name, outcome: "failure", error: String(error.message || error) });
    }
  }
  return out;
}"""

RUN_SLIP39 = """(vectors) => vectors.map(([description, mnemonics, secret]) => {
  try {
    const got = globalThis.batonOpen.combineMnemonics(mnemonics, "TREZOR");
    return [description, [...got].map((x) => x.toString(16).padStart(2, "0")).join("")];
  } catch (error) {
    return [description, ""];
  }
})"""


def _page(visit: Visit, tmp: Path) -> None:
    page = tmp / "vectors.html"
    page.write_text(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>vectors</title></head>"
                    f"<body><script>{SCRIPT.read_text()}</script></body></html>")
    visit.page.goto(page.as_uri())


def _age_vectors() -> list[dict[str, object]]:
    found = []
    for path in sorted((VECTORS / "age-cctv").iterdir()):
        head, _, body = path.read_bytes().partition(b"\n\n")
        fields: dict[str, list[str]] = {}
        for line in head.decode().splitlines():
            key, _, value = line.partition(": ")
            fields.setdefault(key, []).append(value)
        if fields.get("compressed") == ["zlib"]:
            body = zlib.decompress(body)
        found.append({"name": path.name, "expect": fields["expect"][0], "payload": fields.get("payload", [None])[0],
                      "identities": fields.get("identity", []), "passphrases": fields.get("passphrase", []),
                      "armored": fields.get("armored") == ["yes"], "file": base64.b64encode(body).decode()})
    return found


def test_the_slip39_vectors_pass_in_the_browser(visit: Visit, tmp_path: Path) -> None:
    """All 45: valid sets give their master secret, invalid ones are refused."""
    _page(visit, tmp_path)
    vectors = json.loads((VECTORS / "slip39" / "vectors.json").read_text())
    results = visit.page.evaluate(RUN_SLIP39, vectors)
    assert len(results) == len(vectors) == 45
    assert [got for _, got in results] == [secret for _, _, secret, _ in vectors]


def test_the_age_vectors_pass_in_the_browser_where_typage_supports_them(visit: Visit, tmp_path: Path) -> None:
    """Every CCTV vector runs through typage in Chromium; the ones it departs from are pinned."""
    _page(visit, tmp_path)
    vectors = _age_vectors()
    results = {r["name"]: r for r in visit.page.evaluate(RUN_AGE, vectors)}
    assert len(results) == len(vectors) == 143
    departs = {}
    for v in vectors:
        got = results[str(v["name"])]
        if v["expect"] == "success":
            agrees = got["outcome"] == "success" and got["payload"] == v["payload"]
        else:
            agrees = got["outcome"] == "failure"
        if not agrees:
            departs[str(v["name"])] = got["outcome"]
    assert departs == TYPAGE_GAPS
    passed = len(vectors) - len(departs)
    print(f"age CCTV in Chromium (typage): {passed} as specified, {len(departs)} pinned gaps: {sorted(departs)}")
