// Preloaded into measured commands (`node --require`): at exit, appends the process's
// peak RSS and CPU time as one JSON line to $MOOSE_BENCH_USAGE_FILE.
"use strict";
const { appendFileSync } = require("node:fs");
const file = process.env.MOOSE_BENCH_USAGE_FILE;
if (file) {
  process.on("exit", (code) => {
    const u = process.resourceUsage();
    appendFileSync(file, JSON.stringify({ pid: process.pid, code, maxRssKb: u.maxRSS, userMs: u.userCPUTime / 1000, systemMs: u.systemCPUTime / 1000 }) + "\n");
  });
}
