// Forwarding a share: the holder's key (file, card text or QR photo) opens their sealed share here, the
// share is sealed again to the collector's public key, and only that ciphertext is posted. The key and
// the share in the clear never leave the page.
import { KeyProblem, identityFrom, open, reveal, say, sealTo, words } from "../enrol/keys.js";
import { mnemonicsIn } from "../shared/sharefile.js";

export function start() {
  const button = document.getElementById("forward-share");
  if (!button) return;
  reveal();
  const said = words();
  const data = document.getElementById("forward-data");
  const status = document.getElementById("forward-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    say(status, said.opening, false);
    try {
      const identity = await identityFrom(document.getElementById("keyinput"));
      const share = await open(data.dataset.share, identity);
      if (mnemonicsIn(share).length === 0) throw new KeyProblem("not_a_share");
      document.getElementById("forward-sealed").value = await sealTo(data.dataset.recipient, share);
      say(status, said.sending, false);
      document.getElementById("forward-form").submit();
    } catch (e) {
      say(status, said[e instanceof KeyProblem ? e.word : "wrong_key"] || String(e), true);
      button.disabled = false;
    }
  });
}
