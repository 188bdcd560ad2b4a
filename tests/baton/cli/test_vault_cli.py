"""The ``baton vault``, ``people``, ``drill`` and ``recover`` commands against a live server on loopback.

Unlocking the owner's key and sealing a split cost about a second and a half each (scrypt),
so owners that several tests only read are made once per module; a test that changes
something works in a compartment or on a person of its own.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import re
import stat
import subprocess
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from baton.cli.app import app
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.releases import vault_parts
from baton.store import links as stored_links
from baton.store.tables import outbox
from tests_support import live_server, needs_tools, ok, run_cli, settings_for

pytestmark = needs_tools("age", "age-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
PASSPHRASE = "a long owner passphrase"
PASSWORD = "registrar-pw-7f3a9c"
ATTACHMENT = b"\x00backup key bytes\xff" * 64
_emails = itertools.count(1)


@dataclass
class Owner:
    """An owner on the shared server: the API token and a home for the vault key and passphrase file."""

    id: int
    token: str
    home: Path

    @property
    def key(self) -> Path:
        return self.home / "vault-key.age"

    @property
    def passphrase_file(self) -> Path:
        return self.home / "passphrase"


@dataclass
class Served:
    url: str
    runtime: Runtime
    tmp: pytest.TempPathFactory

    def new_owner(self) -> Owner:
        made = self.runtime.service.create_owner(f"owner{next(_emails)}@example.org", "correct horse battery",
                                                 "Europe/Rome", policy=POLICY)
        home = self.tmp.mktemp("owner")
        owner = Owner(made.owner.id, made.api_token, home)
        owner.passphrase_file.write_text(PASSPHRASE + "\n")
        return owner

    def api(self, owner: Owner, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {owner.token}"}) as client:
            response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def compartment(self, owner: Owner, name: str) -> dict[str, Any]:
        vault, _builder = vault_parts(self.runtime.service)
        return next(c for c in vault.list_compartments(owner.id) if c["name"] == name)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API served by uvicorn on 127.0.0.1, in a thread, for the whole module."""
    root = tmp_path_factory.mktemp("server")
    runtime = build(settings_for(f"sqlite:///{root}/baton.db", data_dir=root))
    try:
        with live_server(create_app(runtime.service)) as url:
            yield Served(url, runtime, tmp_path_factory)
    finally:
        runtime.engine.dispose()


def _use(mp: pytest.MonkeyPatch, served: Served, owner: Owner) -> None:
    """Point the CLI at the server as ``owner``, with the passphrase in a file."""
    mp.setenv("BATON_URL", served.url)
    mp.setenv("BATON_TOKEN", owner.token)
    mp.setenv("BATON_CLIENT_CONFIG", str(owner.home / "client.json"))
    mp.setenv("BATON_VAULT_KEY", str(owner.key))
    mp.setenv("BATON_PASSPHRASE_FILE", str(owner.passphrase_file))


baton = run_cli


def _age_key(path: Path) -> str:
    """A new age identity file at ``path`` (made by age-keygen); returns its public key."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return str(re.findall(r"age1\w+", path.read_text())[0])


def _holder_with_key(served: Served, owner: Owner, name: str) -> Path:
    """A holder added and given an age key through the API (as if given in person); returns the key file."""
    served.api(owner, "POST", "/api/people", json={"name": name, "role": "heir", "email": f"{name}@example.org"})
    path = owner.home / f"{name}.key"
    served.api(owner, "PUT", f"/api/people/{name}/key", json={"recipient": _age_key(path), "source": "owner"})
    return path


def _add_registrar(compartment: str = "operations") -> Result:
    return baton("vault", "add", compartment, "--kind", "registrar", "--title", "Registrar X", "--field",
                 "registrar=X", "--field", "username=me", "--secret", "password", input=PASSWORD + "\n")


def _add_note(compartment: str, title: str = "Runbook") -> Result:
    return baton("vault", "add", compartment, "--kind", "note", "--title", title, "--field", "text=restart nginx")


def _people(served: Served, owner: Owner) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in served.api(owner, "GET", "/api/people")}


# -- owners shared by several tests ---------------------------------------------------------------
@pytest.fixture(scope="module")
def filled(served: Served) -> Owner:
    """An owner whose compartment ``operations`` holds a registrar (with a password) and a file."""
    owner = served.new_owner()
    attachment = owner.home / "backup.key"
    attachment.write_bytes(ATTACHMENT)
    with pytest.MonkeyPatch.context() as mp:
        _use(mp, served, owner)
        ok(baton("vault", "init"))
        ok(_add_registrar())
        ok(baton("vault", "add", "operations", "--kind", "file", "--title", "Backup key", "--file", attachment))
    return owner


@pytest.fixture(scope="module")
def crew(served: Served) -> Owner:
    """An owner with a vault key and six holders with age keys; each test splits its own compartment."""
    owner = served.new_owner()
    with pytest.MonkeyPatch.context() as mp:
        _use(mp, served, owner)
        ok(baton("vault", "init"))
    for name in ("ana", "bruno", "carla", "dan", "erin", "fay"):
        _holder_with_key(served, owner, name)
    return owner


@dataclass
class Drilled:
    owner: Owner
    result: Result
    out: Path
    keys: dict[str, Path]
    fingerprint: str  # the deployment key's, as ana's key card shows it

    @property
    def packages(self) -> list[Path]:
        return sorted(self.out.glob("DRILL-*.zip"))


@pytest.fixture(scope="module")
def drilled(served: Served) -> Drilled:
    """ana (a key card), bruno and carla hold 2 of 3 of ``operations``; a drill ran with ana's and bruno's keys."""
    owner = served.new_owner()
    with pytest.MonkeyPatch.context() as mp:
        _use(mp, served, owner)
        ok(baton("vault", "init"))
        ok(_add_registrar())
        ok(baton("people", "add", "ana", "--role", "heir", "--email", "ana@example.org"))
        card = owner.home / "ana-card.html"
        ok(baton("people", "keycard", "ana", "--out", card))
        keys = {"ana": owner.home / "ana.key"}
        keys["ana"].write_text(re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]+", card.read_text())[0] + "\n")
        [fingerprint] = re.findall(r"<p class='fp' id='fingerprint'>([0-9a-f]{64})</p>", card.read_text())
        keys["bruno"] = _holder_with_key(served, owner, "bruno")
        keys["carla"] = _holder_with_key(served, owner, "carla")
        ok(baton("vault", "split", "operations", "--threshold", "2", "--holders", "ana,bruno,carla"))
        out = owner.home / "drill"
        result = baton("drill", "--out", out, "-i", keys["ana"], "-i", keys["bruno"])
    return Drilled(owner, result, out, keys, fingerprint)


# -- vault init -------------------------------------------------------------------------------------
def test_vault_init_writes_a_locked_key_file_and_registers_its_public_key(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key file is an age passphrase file only the owner can read; its public key is on the server."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    result = ok(baton("vault", "init"))
    public = re.findall(r"^public key: (age1\w+)$", result.stdout, re.M)[0]
    data = owner.key.read_bytes()
    assert stat.S_IMODE(os.stat(owner.key).st_mode) == 0o600
    assert data.startswith(b"age-encryption.org/v1\n") and b"AGE-SECRET-KEY" not in data.upper()
    assert result.stdout.startswith(f"vault key written to {owner.key} (locked with your passphrase)\n")
    assert served.api(owner, "GET", "/api/vault/key")["recipient"] == public


def test_a_second_vault_init_is_refused(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a key file already there, init stops with exit code 6 and leaves the file as it was."""
    _use(monkeypatch, served, filled)
    before = filled.key.read_bytes()
    result = baton("vault", "init")
    assert result.exit_code == 6
    assert result.stderr == (f"error: {filled.key} exists already; it holds your vault key (keep it, and a copy)\n")
    assert filled.key.read_bytes() == before


def test_a_vault_command_closes_its_connection(filled: Owner, served: Served,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault list`` leaves no socket to the server open behind it (no ResourceWarning)."""
    _use(monkeypatch, served, filled)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = CliRunner().invoke(app, ["vault", "list"])
        gc.collect()
    assert result.exit_code == 0, result.output
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- vault add, list, show -------------------------------------------------------------------------------
def test_vault_add_asks_for_the_secret_hidden_and_saves_the_entry(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The password comes from the hidden prompt; the entry is saved as version 1 and nothing echoes it."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    ok(baton("vault", "init"))
    result = ok(_add_registrar())
    # The test runner writes the hidden prompt's closing " \n" to stdout (a terminal gets it on the tty).
    assert result.stdout.lstrip() == "added registrar-x to operations (version 1)\n"
    assert PASSWORD not in result.output
    assert served.compartment(owner, "operations")["version"] == 1


def test_vault_list_shows_the_compartments(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a name, ``vault list`` prints each compartment with its version, size and split."""
    _use(monkeypatch, served, filled)
    info = served.compartment(filled, "operations")
    result = ok(baton("vault", "list"))
    assert result.stdout == (f"operations       v2    {info['size']:>12} bytes  not split\n"
                             "  ! not split yet: nobody could open it after a release\n")


def test_vault_list_of_a_compartment_shows_its_entries(filled: Owner, served: Served,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With a name, ``vault list`` prints each entry's id, kind and title (never a field)."""
    _use(monkeypatch, served, filled)
    result = ok(baton("vault", "list", "operations"))
    assert result.stdout == ("backup-key               file       Backup key\n"
                             "registrar-x              registrar  Registrar X\n")


def test_vault_show_prints_stars_for_a_secret(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault show`` prints the fields with the password as stars."""
    _use(monkeypatch, served, filled)
    result = ok(baton("vault", "show", "operations", "registrar-x"))
    first, *rest = result.stdout.splitlines()
    assert first.startswith("Registrar X (Registrar account, updated ")
    assert rest == ["  registrar: X", "  username: me", "  password: ********"]
    assert PASSWORD not in result.output


def test_vault_show_reveal_prints_the_secret(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault show --reveal`` prints the password itself."""
    _use(monkeypatch, served, filled)
    result = ok(baton("vault", "show", "operations", "registrar-x", "--reveal"))
    assert result.stdout.splitlines()[1:] == ["  registrar: X", "  username: me", f"  password: {PASSWORD}"]


def test_vault_show_save_file_writes_the_attachment_privately(filled: Owner, served: Served,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A file entry's file comes back byte for byte, in a file only the owner can read."""
    _use(monkeypatch, served, filled)
    target = filled.home / "saved-backup.key"
    result = ok(baton("vault", "show", "operations", "backup-key", "--save-file", target))
    assert result.stdout.splitlines()[1:] == ["  filename: backup.key", f"  file written to {target}"]
    assert target.read_bytes() == ATTACHMENT
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_a_secret_field_on_the_command_line_is_refused(filled: Owner, served: Served,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``--field password=…`` would land in the shell history: exit code 2, and nothing is saved."""
    _use(monkeypatch, served, filled)
    result = baton("vault", "add", "operations", "--kind", "registrar", "--title", "Registrar Y", "--field",
                   "registrar=Y", "--field", "password=in-the-history")
    assert result.exit_code == 2
    assert result.stderr == ("error: --field password: secret fields are not taken on the command line (shell "
                             "history); use --secret password to be asked for it\n")
    assert served.compartment(filled, "operations")["version"] == 2


def test_an_unknown_kind_is_refused(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--kind bank`` names the kinds there are: exit code 2."""
    _use(monkeypatch, served, filled)
    result = baton("vault", "add", "operations", "--kind", "bank", "--title", "Bank")
    assert result.exit_code == 2
    assert result.stderr == ("error: --kind: expected one of login, registrar, panel, server, auth_code, billing, "
                             "note, file, got 'bank'\n")


# -- vault edit, rm --------------------------------------------------------------------------------------
def test_vault_edit_changes_a_field(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault edit --field`` changes that field, keeps the others and saves a new version."""
    _use(monkeypatch, served, filled)
    ok(_add_note("edits"))
    result = ok(baton("vault", "edit", "edits", "runbook", "--field", "text=reboot the server"))
    assert result.stdout == "changed runbook in edits (version 2)\n"
    shown = ok(baton("vault", "show", "edits", "runbook"))
    assert shown.stdout.splitlines()[1:] == ["  text: reboot the server"]


def test_vault_rm_removes_the_entry(filled: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault rm`` saves the compartment without the entry."""
    _use(monkeypatch, served, filled)
    ok(_add_note("removals"))
    result = ok(baton("vault", "rm", "removals", "runbook"))
    assert result.stdout == "removed runbook from removals (version 2)\n"
    assert ok(baton("vault", "list", "removals")).stdout == ""


def test_vault_rm_of_an_unknown_entry_names_the_entries_there(filled: Owner, served: Served,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing an id that is not there: exit code 2, the entries listed, nothing saved."""
    _use(monkeypatch, served, filled)
    result = baton("vault", "rm", "operations", "registrar-z")
    assert result.exit_code == 2
    assert result.stderr == ("error: compartment 'operations': no entry 'registrar-z' (entries: backup-key, "
                             "registrar-x)\n")
    assert served.compartment(filled, "operations")["version"] == 2


def test_a_wrong_passphrase_stops_before_anything_is_uploaded(filled: Owner, served: Served,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Another passphrase in the file: exit code 2, the reason, and the compartment keeps its version."""
    _use(monkeypatch, served, filled)
    wrong = filled.home / "wrong-passphrase"
    wrong.write_text("not the owner passphrase\n")
    monkeypatch.setenv("BATON_PASSPHRASE_FILE", str(wrong))
    before = served.compartment(filled, "operations")
    result = _add_note("operations", "Another runbook")
    assert result.exit_code == 2
    assert result.stderr == "error: the passphrase does not open this identity file\n"
    after = served.compartment(filled, "operations")
    assert (after["version"], after["sha256"]) == (before["version"], before["sha256"])


# -- people ----------------------------------------------------------------------------------------------
def test_people_add_prints_the_enrolment_link_it_e_mailed(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder with an e-mail address: the link is printed, and the same link is in the e-mail to them."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    result = ok(baton("people", "add", "ana", "--role", "heir", "--email", "ana@example.org", "--language", "id"))
    match = re.fullmatch(r"added ana \(heir\)\nenrolment link \(also e-mailed\): (http://baton\.test/e/\S+)\n",
                         result.stdout)
    assert match is not None, result.stdout
    with served.runtime.engine.connect() as conn:
        bodies = [r.body_text for r in conn.execute(select(outbox.c.body_text).where(
            outbox.c.owner_id == owner.id, outbox.c.recipient == "ana@example.org", outbox.c.purpose == "enrol"))]
    assert len(bodies) == 1 and match[1] in stored_links.expand(served.runtime.service.key, bodies[0])


def test_people_list_shows_a_holder_without_a_key(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder who has not enrolled is listed with ``key none`` and no shares."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    ok(baton("people", "add", "ana", "--role", "heir", "--email", "ana@example.org"))
    result = ok(baton("people", "list"))
    assert result.stdout == ("ana              heir      key none        holds —                        "
                             "ana@example.org\n")


def test_status_names_holders_without_a_key(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``baton status`` ends with a ``holder key:`` line for each holder whose key is missing."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    ok(baton("people", "add", "ana", "--role", "heir", "--email", "ana@example.org"))
    result = ok(baton("status"))
    assert "time zone:      Europe/Rome\n" in result.stdout
    assert result.stdout.endswith("\nholder key:     ana: none (no key yet)\n")


def test_people_keycard_writes_the_card_privately_and_sends_only_the_public_key(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The card (HTML with the secret key and its QR code, and a PDF) stays here; the server gets the public key."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    ok(baton("vault", "init"))
    ok(baton("people", "add", "ana", "--role", "heir", "--email", "ana@example.org"))
    card = owner.home / "card.html"
    result = ok(baton("people", "keycard", "ana", "--out", card))
    pdf = owner.home / "card.pdf"
    assert result.stdout == (f"key card written to {card} and {pdf}: print it, give it to ana, then delete both "
                             "files. Only the public key was sent to Baton.\n")
    page = card.read_text()
    assert re.search(r"AGE-SECRET-KEY-1[0-9A-Z]{58}", page) and "<svg" in page
    assert pdf.read_bytes().startswith(b"%PDF")
    assert [stat.S_IMODE(os.stat(p).st_mode) for p in (card, pdf)] == [0o600, 0o600]
    [ana] = json.loads(ok(baton("people", "list", "--json")).stdout)
    assert (ana["key"], ana["key_source"]) == ("unverified", "keycard")
    assert ana["recipient"] == re.findall(r"age1\w+", page)[0]


# -- splits and removing holders ---------------------------------------------------------------------
def test_vault_split_seals_shares_to_the_holders(crew: Owner, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault split --threshold 2 --holders …`` names the split; ``vault list`` shows the quorum."""
    _use(monkeypatch, served, crew)
    ok(_add_note("operations"))
    result = ok(baton("vault", "split", "operations", "--threshold", "2", "--holders", "ana,bruno,carla"))
    split = served.compartment(crew, "operations")["split"]
    assert result.stdout == (f"operations: split {split['id']}, 2 of 3 (holders); shares sealed to ana, bruno, "
                             "carla\n")
    [line] = [x for x in ok(baton("vault", "list")).stdout.splitlines() if x.startswith("operations ")]
    assert line.endswith(" bytes  2 of 3 (holders)")


def test_people_remove_splits_again_without_the_holder(crew: Owner, served: Served,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing a holder of a 2-of-3 split leaves a 2-of-2 split of the others, then removes them."""
    _use(monkeypatch, served, crew)
    ok(_add_note("estate"))
    ok(baton("vault", "split", "estate", "--threshold", "2", "--holders", "ana,bruno,dan"))
    before = served.compartment(crew, "estate")["split"]["id"]
    result = ok(baton("people", "remove", "dan"))
    assert result.stdout == "removed dan; split again: estate\n"
    split = served.compartment(crew, "estate")["split"]
    assert (split["describe"], split["holders"]) == ("2 of 2 (holders)", ["ana", "bruno"])
    assert split["id"] != before
    assert "dan" not in _people(served, crew)


def test_people_remove_is_refused_when_the_quorum_could_not_be_met(crew: Owner, served: Served,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without erin a 2-of-2 split cannot stand: exit code 6, the reason, and nothing changes."""
    _use(monkeypatch, served, crew)
    ok(_add_note("pair"))
    ok(baton("vault", "split", "pair", "--threshold", "2", "--holders", "ana,erin"))
    before = served.compartment(crew, "pair")["split"]
    result = baton("people", "remove", "erin")
    assert result.exit_code == 6
    assert result.stderr == ("error: compartment pair: without erin, group 'holders' has 1 holder for a threshold "
                             "of 2; split it with a new policy first (`baton vault split pair …`)\n")
    assert served.compartment(crew, "pair")["split"] == before
    assert _people(served, crew)["erin"]["holds"] == ["pair"]


def test_a_refused_remove_splits_no_other_compartment_again(crew: Owner, served: Served,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """fay holds shares of alpha (2 of 3) and beta (2 of 2): refused for beta, alpha keeps its split too."""
    _use(monkeypatch, served, crew)
    ok(_add_note("alpha"))
    ok(_add_note("beta"))
    ok(baton("vault", "split", "alpha", "--threshold", "2", "--holders", "ana,bruno,fay"))
    ok(baton("vault", "split", "beta", "--threshold", "2", "--holders", "ana,fay"))
    before = served.compartment(crew, "alpha")["split"]
    result = baton("people", "remove", "fay")
    assert result.exit_code == 6
    assert result.stderr == ("error: compartment beta: without fay, group 'holders' has 1 holder for a threshold "
                             "of 2; split it with a new policy first (`baton vault split beta …`)\n")
    assert served.compartment(crew, "alpha")["split"] == before


# -- drill ---------------------------------------------------------------------------------------------
def test_a_drill_downloads_the_packages_passes_the_keys_given_and_opens_the_vault(drilled: Drilled) -> None:
    """The drill saves one DRILL package per holder, answers ana's and bruno's key checks and opens operations."""
    out = drilled.result.stdout.splitlines()
    assert [p.name for p in drilled.packages] == ["DRILL-operations-ana.zip", "DRILL-operations-bruno.zip",
                                                   "DRILL-operations-carla.zip"]
    assert re.fullmatch(rf"drill \d+: 3 packages in {re.escape(str(drilled.out))}", out[0])
    assert {"key of ana: works (key check passed)", "key of bruno: works (key check passed)"} <= set(out)
    assert not any(line.startswith("key of carla") for line in out)
    opened = drilled.out / "opened" / "operations"
    assert f"opened operations (DRILL) with the shares of ana, bruno: {opened}" in out
    assert "Registrar X" in (opened / "vault.html").read_text()


def test_a_drill_marks_the_keys_it_proved_as_verified(drilled: Drilled, served: Served) -> None:
    """After the drill ana's and bruno's keys are verified; carla's, not given, is still unverified."""
    people = _people(served, drilled.owner)
    assert {name: p["key"] for name, p in people.items()} == {"ana": "verified", "bruno": "verified",
                                                              "carla": "unverified"}


def test_a_drill_reports_only_what_is_still_wrong_after_its_key_checks(drilled: Drilled) -> None:
    """The findings are those left once the keys given passed: carla's unverified key, and exit code 1."""
    assert drilled.result.exit_code == 1
    assert drilled.result.stdout.endswith(
        "\n\n1 finding(s):\n"
        "- carla's key is unverified (last proven: never)\n"
        "  what to do: ask for a key check: `baton people check carla`\n"), drilled.result.stdout


# -- recover -------------------------------------------------------------------------------------------
def _rewrite(source: Path, target: Path, name: str, change: Callable[[bytes], bytes]) -> Path:
    """A copy of the zip ``source`` with the member ending in ``/name`` changed (a valid zip, new CRC)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as new:
        for member in old.infolist():
            data = old.read(member)
            new.writestr(member.filename, change(data) if member.filename.endswith("/" + name) else data)
    return target


def _recover(drilled: Drilled, *args: str | Path) -> Result:
    """``baton recover`` with the fingerprint from the holder's key card."""
    return baton("recover", *args, "--fingerprint", drilled.fingerprint)


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def test_recover_opens_the_vault_with_two_keys(drilled: Drilled, tmp_path: Path) -> None:
    """The packages and two holders' keys open operations; the audit excerpt is checked and summed up."""
    out = tmp_path / "opened"
    result = ok(_recover(drilled, *drilled.packages, "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"],
                      "--out", out))
    first, second = result.stdout.splitlines()
    assert re.fullmatch(r"operations: released because fire drill started by the owner; audit entries \d+–\d+ "
                        r"\(owner\.created … vault\.split\) are signed and chained", first), first
    assert second == f"opened operations (DRILL) with the shares of ana, bruno: {out / 'operations'}"
    doc = json.loads((out / "operations" / "vault.json").read_text())
    assert doc["entries"][0]["fields"]["password"] == PASSWORD


def test_recover_with_one_key_says_how_many_shares_are_needed(drilled: Drilled, tmp_path: Path) -> None:
    """One holder's key for a 2-of-3 split: exit code 2 and the count, nothing written."""
    out = tmp_path / "opened"
    result = _recover(drilled, *drilled.packages, "-i", drilled.keys["bruno"], "--out", out)
    assert result.exit_code == 2
    assert result.stderr == "error: 2 of 3 shares needed, 1 given\n"
    assert not out.exists()


def test_recover_with_a_key_that_opens_nothing_names_the_holders(drilled: Drilled, tmp_path: Path) -> None:
    """A key no share was sealed to: exit code 2, and whose shares these are."""
    stranger = tmp_path / "stranger.key"
    _age_key(stranger)
    result = _recover(drilled, *drilled.packages, "-i", stranger, "--out", tmp_path / "opened")
    assert result.exit_code == 2
    assert result.stderr == ("error: compartment operations: none of the identities given opens any share in these "
                             "packages (the shares belong to ana, bruno, carla)\n")


def test_recover_refuses_a_package_whose_compartment_file_was_altered(drilled: Drilled, tmp_path: Path) -> None:
    """One byte flipped in compartment-operations.age: exit code 2, the file and its checksum named."""
    ana, bruno, carla = drilled.packages
    altered = _rewrite(bruno, tmp_path / bruno.name, "compartment-operations.age", _flip)
    result = _recover(drilled, ana, altered, carla, "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"],
                   "--out", tmp_path / "opened")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {altered}: compartment-operations.age: checksum does not match SHA256SUMS "
                             "(the file is truncated or altered)\n")


def test_recover_refuses_a_package_whose_checksums_were_altered(drilled: Drilled, tmp_path: Path) -> None:
    """A digest changed in SHA256SUMS: exit code 2, the signature does not verify."""
    ana, bruno, carla = drilled.packages
    altered = _rewrite(ana, tmp_path / ana.name, "SHA256SUMS", lambda d: (b"1" if d[:1] == b"0" else b"0") + d[1:])
    result = _recover(drilled, altered, bruno, carla, "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"],
                   "--out", tmp_path / "opened")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {altered}: SHA256SUMS: the signature does not verify (the package was altered, "
                             "or was not made by this Baton service)\n")


@pytest.fixture(scope="module")
def refused_recovery(drilled: Drilled, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """``baton recover`` into a folder that has an ``operations`` folder already."""
    out = tmp_path_factory.mktemp("occupied")
    (out / "operations").mkdir()
    (out / "operations" / "mine.txt").write_text("the owner's own file\n")
    return _recover(drilled, *drilled.packages, "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"],
                 "--out", out), out


def test_recover_into_a_folder_with_the_compartment_is_refused(refused_recovery: tuple[Result, Path]) -> None:
    """An ``operations`` folder in --out already: exit code 6, and it is left as it was."""
    result, out = refused_recovery
    assert result.exit_code == 6
    assert result.stderr == f"error: {out / 'operations'} exists already; choose an empty output folder\n"
    assert [p.name for p in (out / "operations").iterdir()] == ["mine.txt"]


def test_a_refused_recovery_leaves_no_opened_files_behind(refused_recovery: tuple[Result, Path]) -> None:
    """The refusal leaves nothing of the opened compartment (its secrets in clear) in the folder."""
    _result, out = refused_recovery
    assert sorted(p.name for p in out.iterdir()) == ["operations"]


# -- progress (issue 16): quiet where output is not a terminal, drawn when asked ---------------------------------
def test_a_drill_and_a_recovery_draw_no_progress_into_a_pipe(drilled: Drilled, tmp_path: Path) -> None:
    """The test runner's output is no terminal: the drill and recover write their report and no bar at all."""
    assert "\x1b[" not in drilled.result.stderr and "downloading" not in drilled.result.stderr
    result = ok(_recover(drilled, *drilled.packages, "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"],
                         "--out", tmp_path / "opened"))
    assert result.stderr == ""


def test_progress_always_shows_each_step_of_a_recovery(drilled: Drilled, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """BATON_PROGRESS=always: checking, decrypting (in bytes) and writing the files are drawn on standard error;
    standard output is the same report as in a pipe."""
    monkeypatch.setenv("BATON_PROGRESS", "always")
    result = ok(_recover(drilled, *drilled.packages, "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"],
                         "--out", tmp_path / "opened"))
    assert "checking the packages" in result.stderr
    assert "decrypting compartment operations" in result.stderr
    assert re.search(r"\d+(\.\d+)?/\d+(\.\d+)? (bytes|kB|MB)", result.stderr), result.stderr
    assert "writing the files of operations" in result.stderr
    assert "\x1b[" not in result.stdout and result.stdout.splitlines()[-1] == (
        f"opened operations (DRILL) with the shares of ana, bruno: {tmp_path / 'opened' / 'operations'}")


def test_progress_always_shows_a_drills_steps(drilled: Drilled, served: Served, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """BATON_PROGRESS=always: the drill's release on the server, the downloads and the recovery are drawn."""
    _use(monkeypatch, served, drilled.owner)
    monkeypatch.setenv("BATON_PROGRESS", "always")
    result = baton("drill", "--out", tmp_path / "again", "-i", drilled.keys["ana"], "-i", drilled.keys["bruno"])
    assert result.exit_code == 1, result.output  # carla's key is still unverified
    for step in ("running the drill's release on the server", "downloading the DRILL packages",
                 "decrypting compartment operations", "writing the files of operations"):
        assert step in result.stderr, (step, result.stderr[-2000:])
    assert "\x1b[" not in result.stdout


def test_vault_collector_names_a_collector_and_nobody(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vault collector operations ana`` names ana (she has an age key); ``--none`` takes it back; both or
    neither is refused."""
    owner = served.new_owner()
    _use(monkeypatch, served, owner)
    ok(baton("vault", "init"))
    ok(baton("people", "add", "ana", "--role", "heir", "--email", "ana@example.org"))
    ok(baton("people", "keycard", "ana", "--out", owner.home / "card.html"))
    ok(baton("vault", "split", "operations", "--threshold", "1", "--holders", "ana"))
    assert ok(baton("vault", "collector", "operations", "ana")).stdout == (
        "operations: ana collects the shares after a release (each holder may forward theirs, sealed to their "
        "key)\n")
    assert served.compartment(owner, "operations")["collector"] == "ana"
    assert ok(baton("vault", "collector", "operations", "--none")).stdout == (
        "operations: no collector; holders forward nothing\n")
    assert served.compartment(owner, "operations")["collector"] is None
    refused = baton("vault", "collector", "operations")
    assert refused.exit_code == 2 and "expected a person's short id or --none, got neither" in refused.output
