// A key check in the browser: the holder's key (file, card text or QR photo) opens the sealed code on
// this page, and the code is filled into the form. The key never leaves the page; the holder still
// presses the button that sends the code.
import { KeyProblem, identityFrom, open, reveal, say, words } from "./keys.js";

export function start() {
  const button = document.getElementById("open-here");
  if (!button) return;
  reveal();
  const said = words();
  const status = document.getElementById("open-status");
  const block = document.getElementById("keyinput");
  const sealed = document.getElementById("sealed");
  button.addEventListener("click", async () => {
    button.disabled = true;
    say(status, said.opening, false);
    try {
      const identity = await identityFrom(block);
      const text = await open(sealed.dataset.sealed || sealed.value, identity);
      // The label is in the holder's language ("Your code:", "Kode Anda:"…), as vault.challenge.code_from reads it.
      const found = text.match(/^[^:\n]{1,40}:\s*([A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4})\s*$/m);
      if (!found) throw new KeyProblem("not_a_check");
      const code = document.getElementById("code");
      code.value = found[1];
      say(status, said.filled, false);
      code.focus();
    } catch (e) {
      say(status, said[e instanceof KeyProblem ? e.word : "wrong_key"] || String(e), true);
    } finally {
      button.disabled = false;
    }
  });
}
