// The enrolment page: "make a key for me" in the holder's browser (see enrol/make.js).
import { start } from "./enrol/make.js";

start();
