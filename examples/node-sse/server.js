// A small Server-Sent Events server on Node's own http module (no dependencies), for the
// sse-doctor pytest example (examples/pytest/test_node_sse.py).
//
//   PORT=8080 node server.js      (PORT=0 or unset: a free port)
//
// It prints "listening on http://127.0.0.1:PORT" once it accepts connections.
//   /events   an event every 250 ms with an id, a ': ping' comment every second, retry 3000
//   /stalled  one 'progress' event, then silence: the bug sse-doctor reports as no-heartbeat
"use strict";

const http = require("node:http");

function openStream(res) {
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  res.flushHeaders();
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, "http://localhost").pathname;
  if (path === "/events") {
    openStream(res);
    res.write("retry: 3000\n\n");
    let n = 0;
    const tick = setInterval(() => {
      n += 1;
      res.write(`id: ${n}\nevent: tick\ndata: {"n": ${n}}\n\n`);
    }, 250);
    const ping = setInterval(() => res.write(": ping\n\n"), 1000);
    req.on("close", () => {
      clearInterval(tick);
      clearInterval(ping);
    });
  } else if (path === "/stalled") {
    openStream(res);
    res.write('id: 1\nevent: progress\ndata: {"done": 10}\n\n');
    // ...and nothing more: the job it waits on never reports
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
  }
});

server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
