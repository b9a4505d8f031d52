// nodemailer's address parser as an app would use it: each line on stdin is one header value;
// each output line lists the addresses it found, space-separated.
"use strict";
const addressparser = require("nodemailer/lib/addressparser");
const flat = (list) => list.flatMap((entry) => (entry.group ? flat(entry.group) : [entry.address]));
const lines = require("fs").readFileSync(0, "utf8").split("\n").slice(0, -1);
process.stdout.write(lines.map((value) => flat(addressparser(value)).join(" ") + "\n").join(""));
