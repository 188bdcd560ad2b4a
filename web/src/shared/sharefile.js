// The share lines of an opened share file (`vault.release.share_file`): all but comments and blank lines;
// read by the offline page and the collector's pages alike.
export function mnemonicsIn(text) {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
}
