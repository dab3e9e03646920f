// Optimizes many wasm files in one process with binaryen's own API, as
// `wasm-opt -Oz --strip-producers --strip-target-features` does one file.
// The wasm-opt that npm's binaryen ships is binaryen compiled to WebAssembly:
// each new process spends about 2 s of CPU before it optimizes well, and the
// split build has dozens of small chunks. xtask/src/web.rs runs this on the
// chunks (and wasm-opt itself on the main module).
//
// usage: node optimize-chunks.mjs IN OUT [IN OUT]...

import binaryen from "binaryen";
import { readFileSync, writeFileSync } from "node:fs";

const paths = process.argv.slice(2);
if (paths.length === 0 || paths.length % 2 !== 0) {
  console.error("usage: node optimize-chunks.mjs IN OUT [IN OUT]...");
  process.exit(2);
}

// -Oz is the default passes at optimize level 2 and shrink level 2; without
// -g, the names section isn't written.
binaryen.setOptimizeLevel(2);
binaryen.setShrinkLevel(2);
binaryen.setDebugInfo(false);

for (let i = 0; i < paths.length; i += 2) {
  const [input, output] = [paths[i], paths[i + 1]];
  const module = binaryen.readBinary(readFileSync(input));
  // The features come from the target_features section rustc wrote (and
  // wasm-split kept); without it binaryen would assume MVP wasm.
  if (module.getFeatures() === binaryen.Features.MVP) {
    console.error(`${input} has no target_features section`);
    process.exit(1);
  }
  if (!module.validate()) {
    console.error(`${input} is not valid wasm`);
    process.exit(1);
  }
  module.optimize();
  module.runPasses(["strip-producers", "strip-target-features"]);
  writeFileSync(output, module.emitBinary());
  module.dispose();
}
