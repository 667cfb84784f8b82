#!/usr/bin/env node
// Validates HAR files against the HAR 1.2 JSON schema with the npm package
// har-validator.
//
//   npm ci --prefix scripts             # once; har-validator 5.1.5 (package-lock.json)
//   node scripts/har-validate.mjs FILE...
//
// Exit status: 0 when every file is valid, 1 when any is not (each error is
// printed with its JSON path), 2 on usage errors or unreadable files.
//
// Beyond the schema (whose "uri" and "date-time" checks are loose), each
// request.url must parse with WHATWG `new URL()` and each startedDateTime with
// `Date.parse`, because that is what browser HAR importers do.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

// har-validator is CommonJS; resolve it from this script's folder so the
// script works from any working directory.
const require = createRequire(import.meta.url);
let validator;
try {
  validator = require("har-validator");
} catch (e) {
  console.error("har-validate: har-validator is not installed; run: npm ci --prefix scripts");
  process.exit(2);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/har-validate.mjs FILE...");
  process.exit(2);
}

function importerChecks(har) {
  const problems = [];
  const log = har?.log ?? {};
  for (const [i, p] of (log.pages ?? []).entries()) {
    if (Number.isNaN(Date.parse(p.startedDateTime))) {
      problems.push(`log.pages[${i}].startedDateTime: not a date: ${p.startedDateTime}`);
    }
  }
  const pageIds = new Set((log.pages ?? []).map((p) => p.id));
  for (const [i, e] of (log.entries ?? []).entries()) {
    if (Number.isNaN(Date.parse(e.startedDateTime))) {
      problems.push(`log.entries[${i}].startedDateTime: not a date: ${e.startedDateTime}`);
    }
    try {
      new URL(e.request?.url);
    } catch {
      problems.push(`log.entries[${i}].request.url: not a URL: ${e.request?.url}`);
    }
    if (e.pageref !== undefined && !pageIds.has(e.pageref)) {
      problems.push(`log.entries[${i}].pageref: no page ${e.pageref}`);
    }
  }
  return problems;
}

let failed = 0;
let unreadable = 0;
for (const file of files) {
  let har;
  try {
    har = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    console.error(`${file}: cannot read: ${e.message}`);
    unreadable++;
    continue;
  }
  const problems = [];
  try {
    await validator.har(har);
  } catch (e) {
    for (const err of e.errors ?? [{ message: e.message }]) {
      problems.push(`${err.dataPath || "(root)"}: ${err.message}`);
    }
  }
  problems.push(...importerChecks(har));
  if (problems.length > 0) {
    failed++;
    console.error(`${file}: INVALID`);
    for (const p of problems.slice(0, 20)) console.error(`  ${p}`);
    if (problems.length > 20) console.error(`  … ${problems.length - 20} more`);
  }
}
const ok = files.length - failed - unreadable;
console.log(`har-validate: ${ok} of ${files.length} HAR files valid (har-validator ${require("har-validator/package.json").version})`);
process.exit(unreadable > 0 ? 2 : failed > 0 ? 1 : 0);
