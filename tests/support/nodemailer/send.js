// Sends one message through the relay with nodemailer in its default form (MIME, quoted-printable
// or 7bit as nodemailer picks), as an app would. Arguments: port username password from to subject.
"use strict";
const nodemailer = require("nodemailer");
const [port, user, pass, from, to, subject] = process.argv.slice(2);
const transport = nodemailer.createTransport({
  host: "127.0.0.1", port: Number(port), secure: false, requireTLS: true,
  auth: { user, pass }, tls: { rejectUnauthorized: false },
});
transport.sendMail({
  from: `"App Team" <${from}>`, to, subject,
  text: "Héllo from nodemailer, with a line long enough to be wrapped by quoted-printable encoding as it goes.",
  html: "<p>Héllo from <b>nodemailer</b></p>",
  headers: { "List-Unsubscribe": "<https://example.org/u/1>" },
}).then((info) => { console.log(info.response); }, (error) => { console.error(error.message); process.exit(1); });
