// The collector's page: open the forwarded shares with the collector's key and combine them (see collector/collect.js).
import { start } from "./collector/collect.js";

start();
