// A loopback SMTP server for the benchmarks (Node, no packages), driven by SmtpCountSink.cs.
//
// It stands in for the shop's mail relay, which in production runs on another machine: here it shares the two cores
// with the host and PostgreSQL, so it must cost as little as it can. The aiosmtpd server used before spent about
// 0.45 ms of CPU per message, as much as a third of what the journeys benchmark measured. This one speaks just enough
// SMTP for a client that follows the protocol (EHLO/HELO, MAIL, RCPT, DATA with dot-terminated content, RSET, NOOP,
// QUIT; PIPELINING and SMTPUTF8 offered, no TLS, no AUTH), stores nothing, and for each accepted message prints one
// line, "<X-Actors-Message-Key or ->\t<unix time>", so the benchmark can check that every key arrived exactly once.
import net from "node:net";

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : NaN;
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: node smtp_count_sink.mjs --port N\n");
  process.exit(2);
}

const CRLF = Buffer.from("\r\n");
const END_OF_DATA = Buffer.from("\r\n.\r\n");
const END_OF_HEADERS = Buffer.from("\r\n\r\n");
const KEY_HEADER = /^x-actors-message-key:[ \t]*(.*?)[ \t]*$/im;
const EHLO_REPLY = "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 104857600\r\n";

let pendingOut = "";
let flushQueued = false;
function report(line) {
  // One write per event-loop turn, not one per message.
  pendingOut += line;
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(() => {
      flushQueued = false;
      const out = pendingOut;
      pendingOut = "";
      process.stdout.write(out);
    });
  }
}

function keyOf(message) {
  const end = message.indexOf(END_OF_HEADERS);
  // Headers only, unfolded: MimeKit folds a long header over several lines.
  const head = (end < 0 ? message : message.subarray(0, end)).toString("latin1").replace(/\r\n(?=[ \t])/g, "");
  const match = KEY_HEADER.exec(head);
  return match ? Buffer.from(match[1], "latin1").toString("utf8") : "-";
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let buffer = Buffer.alloc(0);
  let inData = false;
  socket.write("220 sink ESMTP count\r\n");
  socket.on("data", (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    let replies = "";
    for (;;) {
      if (inData) {
        // The content may end right after DATA's reply: "\r\n.\r\n", or a lone ".\r\n" at the very start.
        let end;
        let skip;
        if (buffer.length >= 3 && buffer[0] === 0x2e && buffer[1] === 0x0d && buffer[2] === 0x0a) {
          end = 0;
          skip = 3;
        } else {
          end = buffer.indexOf(END_OF_DATA);
          if (end < 0) break;
          skip = END_OF_DATA.length;
        }
        const at = Date.now() / 1000;
        report(`${keyOf(buffer.subarray(0, end))}\t${at.toFixed(6)}\n`);
        buffer = buffer.subarray(end + skip);
        inData = false;
        replies += "250 2.0.0 OK counted\r\n";
        continue;
      }
      const eol = buffer.indexOf(CRLF);
      if (eol < 0) break;
      const line = buffer.subarray(0, eol).toString("latin1");
      buffer = buffer.subarray(eol + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO") replies += EHLO_REPLY;
      else if (verb === "HELO") replies += "250 sink\r\n";
      else if (verb === "MAIL" || verb === "RCPT" || verb === "RSET" || verb === "NOOP") replies += "250 OK\r\n";
      else if (verb === "DATA") {
        replies += "354 End data with <CR><LF>.<CR><LF>\r\n";
        inData = true;
      } else if (verb === "QUIT") {
        socket.end(replies + "221 Bye\r\n");
        return;
      } else replies += "502 5.5.2 Command not implemented\r\n";
    }
    if (replies.length > 0) socket.write(replies);
  });
  socket.on("error", () => {});
});

server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
// Runs until the benchmark kills it, or its stdin closes (the benchmark died).
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
