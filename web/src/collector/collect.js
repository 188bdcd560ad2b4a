// The collector's page: the collector's key opens every share forwarded so far, the shares combine into
// the master secret (SLIP-39), which opens the release key, which opens the compartment: the same steps
// as the package's terminal path (`age -d`, `shamir recover`, `age -d`, `age -d`), in this browser.
// The compartment's file is the only thing fetched, from Baton itself: ciphertext, as in every package.
import { Decrypter } from "age-encryption";
import { KeyProblem, identityFrom, identityIn, open, reveal, save, say, words } from "../enrol/keys.js";
import { ShareProblem, combine } from "./combine.js";
import { mnemonicsIn } from "../shared/sharefile.js";

function told(said, e) {
  if (e instanceof ShareProblem || e instanceof KeyProblem) {
    let text = said[e.word] || e.word;
    for (const [name, value] of Object.entries(e.values || {})) text = text.replace(`{${name}}`, value);
    return text;
  }
  return said.failed;
}

async function openCompartment(data, master) {
  const passphrase = new Decrypter();
  passphrase.addPassphrase(master);
  const protectedKey = Uint8Array.from(atob(data.dataset.protected), (c) => c.charCodeAt(0));
  const releaseKey = identityIn(await passphrase.decrypt(protectedKey, "text"));
  const response = await fetch(data.dataset.file, { credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new Error(`the compartment file: ${response.status}`);
  const decrypter = new Decrypter();
  decrypter.addIdentity(releaseKey);
  return decrypter.decrypt(new Uint8Array(await response.arrayBuffer()));
}

export function start() {
  const button = document.getElementById("combine");
  if (!button) return;
  reveal();
  const said = words();
  const status = document.getElementById("collect-status");
  const data = document.getElementById("collect-data");
  let master = null;
  button.addEventListener("click", async () => {
    button.disabled = true;
    say(status, said.opening, false);
    try {
      const identity = await identityFrom(document.getElementById("keyinput"));
      const mnemonics = [];
      for (const item of document.querySelectorAll("[data-forwarded]")) {
        mnemonics.push(...mnemonicsIn(await open(item.dataset.forwarded, identity)));
      }
      master = combine(mnemonics);
      document.getElementById("master").textContent = master;
      document.getElementById("result").hidden = false;
      say(status, said.combined, false);
    } catch (e) {
      say(status, told(said, e), true);
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("open-compartment").addEventListener("click", async (event) => {
    const opening = event.currentTarget;
    opening.disabled = true;
    say(status, said.opening_compartment, false);
    try {
      const plain = await openCompartment(data, master);
      save(data.dataset.name, plain, "application/zip");
      say(status, said.compartment_saved, false);
    } catch (e) {
      say(status, told(said, e), true);
    } finally {
      opening.disabled = false;
    }
  });
}
