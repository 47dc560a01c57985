#!/usr/bin/env node
// Open-loop load generator: sends requests at a fixed rate whatever the latency, each on one of
// `connections` keep-alive HTTP/1.1 connections (a request waits in a queue when every connection
// is busy), and measures latency from the request's *scheduled* time to the end of its response,
// so a stall is charged to every request it delays (no coordinated omission, like wrk2). Issued
// in 1 ms timer ticks, to leave the CPU to the servers.
// Prints one JSON line: {rate, sent, completed, errors, p50, p90, p99, p999, max} (ms), and `stalls`:
// the requests slower than --stall-ms as [wall-clock ms when issued, latency ms].
// Usage: node open-loop.js --port P [--host-header H] [--path /] [--rate 2000] [--duration 10] [--connections 64] [--stall-ms 5]
import { connect } from 'node:net';
import { arg } from './cluster-serve.js';

const port = Number(arg('port', '8080'));
const path = arg('path', '/');
const hostHeader = arg('host-header', `127.0.0.1:${port}`);
const rate = Number(arg('rate', '2000'));
const durationMs = Number(arg('duration', '10')) * 1000;
const connectionCount = Number(arg('connections', '64'));
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: open-loop\r\n\r\n`);

const latencies = [];
/** Requests slower than --stall-ms (default 5), as [wall-clock ms when issued, latency ms], to line up with a server's own logs. */
const stalls = [];
const stallMs = Number(arg('stall-ms', '5'));
/** At most this many stalls are listed (the first ones). */
const MAX_STALLS = 10_000;
const queue = [];
let errors = 0;
let sent = 0;

function makeConnection() {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const conn = { socket, busy: false, scheduled: 0, buf: Buffer.alloc(0) };
  socket.on('data', (chunk) => {
    conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk]);
    for (;;) {
      const end = conn.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = conn.buf.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let total;
      if (m) total = end + 4 + Number(m[1]);
      else {
        const term = conn.buf.indexOf('\r\n0\r\n\r\n', end);
        if (term === -1) return;
        total = term + 7;
      }
      if (conn.buf.length < total) return;
      if (!head.startsWith('HTTP/1.1 2')) errors++;
      const latency = performance.now() - conn.scheduled;
      latencies.push(latency);
      if (latency >= stallMs && stalls.length < MAX_STALLS) stalls.push([Math.round(Date.now() - latency), Number(latency.toFixed(2))]);
      conn.buf = conn.buf.subarray(total);
      conn.busy = false;
      pump(conn);
    }
  });
  socket.on('error', () => {
    errors++;
  });
  return conn;
}

function pump(conn) {
  if (conn.busy || queue.length === 0) return;
  conn.busy = true;
  conn.scheduled = queue.shift();
  conn.socket.write(request);
}

const connections = Array.from({ length: connectionCount }, makeConnection);
await new Promise((resolve) => setTimeout(resolve, 200));
const start = performance.now();
const interval = 1000 / rate;
let next = start;
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    while (next <= now && next - start < durationMs) {
      // Charged from when the generator issues it (timer lateness is the generator's, not the
      // server's), but including any wait for a free connection.
      queue.push(now);
      sent++;
      next += interval;
    }
    for (const conn of connections) if (!conn.busy && queue.length > 0) pump(conn);
    if (next - start >= durationMs) return resolve();
    setTimeout(tick, 1);
  };
  tick();
});
const deadline = performance.now() + 5000;
while (latencies.length + errors < sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
for (const conn of connections) conn.socket.destroy();
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
console.log(JSON.stringify({ rate, sent, completed: latencies.length, errors, p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: latencies.at(-1), stalls }));
