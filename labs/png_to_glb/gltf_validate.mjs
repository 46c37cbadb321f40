// Validate one GLB with the Khronos glTF Validator (npm package gltf-validator).
//
// Usage: node gltf_validate.mjs PACKAGE_DIR FILE
// PACKAGE_DIR is the installed package (e.g. .ci/node_modules/gltf-validator).
// Prints the validator's JSON report, or {"error": "..."} when the bytes are not glTF at all.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [packageDir, file] = process.argv.slice(2);
if (!packageDir || !file) {
  console.error('usage: node gltf_validate.mjs PACKAGE_DIR FILE');
  process.exit(64);
}
const validator = createRequire(join(packageDir, 'package.json'))(packageDir);
let report;
try {
  const bytes = new Uint8Array(await readFile(file));
  report = await validator.validateBytes(bytes, { uri: file, maxIssues: 20 });
} catch (err) {
  // A rejected promise means the bytes are not glTF/GLB at all.
  report = { error: String(err && err.message ? err.message : err) };
}
process.stdout.write(JSON.stringify(report));
