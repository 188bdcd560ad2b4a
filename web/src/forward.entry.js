// A holder's download page: open the holder's share with their key, seal it to the collector (see collector/forward.js).
import { start } from "./collector/forward.js";

start();
