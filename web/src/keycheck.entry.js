// The key-check pages (a key check's link, and the one for a new download link): open the sealed code here.
import { start } from "./enrol/check.js";

start();
