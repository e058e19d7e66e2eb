#!/bin/sh
# azd prepackage hook of service `api` (azure.yaml): stages the app as it runs on Azure in dist/azd/app, which
# azd zips and deploys. The content is exactly what `npm run package` puts in its zip (src/cli/package.ts):
# package.json, host.json, the compiled app under dist/src and the production dependencies; no sources, tests,
# devDependencies or local host. Idempotent: the folder is rebuilt from scratch each time.
set -eu

out=dist/azd
rm -rf "$out"
mkdir -p "$out/app"

npm run --silent package -- --output "$out/order-service.zip"

# Unpack with fflate, the zip library the packager itself uses (a devDependency, installed by azd's npm install).
# shellcheck disable=SC2016 # the script is JavaScript, its ${...} are JavaScript's
node -e '
const { mkdirSync, readFileSync, writeFileSync } = require("node:fs");
const { dirname, resolve, sep } = require("node:path");
const { unzipSync } = require("fflate");
const [zip, target] = process.argv.slice(1);
const root = resolve(target);
let count = 0;
for (const [name, data] of Object.entries(unzipSync(readFileSync(zip)))) {
  if (name.endsWith("/")) continue;
  const path = resolve(root, name);
  if (!path.startsWith(root + sep)) throw new Error(`refusing ${name}: outside ${root}`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  count++;
}
console.log(`staged ${count} files in ${target}`);
' "$out/order-service.zip" "$out/app"

rm -f "$out/order-service.zip"
