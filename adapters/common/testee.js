// The adapter side of cloudconform's testee protocol v1 (docs/testee-protocol.md), for Node.
// serve(identify, handle): identify(hello) returns the identity fields (or throws
// new Unavailable(reason)); handle(hello, kase) returns (a promise of) one of ok(data),
// error({code, message, requestId, httpStatus}), skipped(reason), errored(reason).
// Only protocol lines go to stdout: console.log is redirected to stderr.
"use strict";
const readline = require("readline");

const out = process.stdout.write.bind(process.stdout);
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");
console.info = console.log;
console.warn = console.log;

class Unavailable extends Error {}

const ok = (data) => ({ outcome: "ok", data });
const error = ({ code = null, message = null, requestId = null, httpStatus = null }) => ({
  outcome: "error",
  error: { code, message, request_id: requestId, http_status: httpStatus },
});
const skipped = (reason) => ({ outcome: "skipped", reason });
const errored = (reason) => ({ outcome: "errored", reason });

function send(message) {
  out(JSON.stringify(message) + "\n");
}

function serve(identify, handle) {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  let hello = null;
  // One case at a time, in order.
  let chain = Promise.resolve();
  rl.on("line", (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    chain = chain.then(async () => {
      if (message.type === "hello") {
        hello = message;
        try {
          send(Object.assign({ type: "identity", protocol: 1 }, identify(hello)));
        } catch (e) {
          if (!(e instanceof Unavailable)) throw e;
          send({ type: "unavailable", reason: e.message });
        }
      } else if (message.type === "case") {
        let result;
        try {
          result = await handle(hello, message);
        } catch (e) {
          process.stderr.write(String((e && e.stack) || e) + "\n");
          result = errored(`${(e && e.name) || "Error"}: ${(e && e.message) || e}`);
        }
        send(Object.assign({ type: "result", id: message.id }, result));
      } else if (message.type === "bye") {
        process.exit(0);
      }
    });
  });
  rl.on("close", () => chain.then(() => process.exit(0)));
}

module.exports = { serve, ok, error, skipped, errored, Unavailable };
