// Builds the definition editor into one static file the admin serves
// (orchestration/static/orchestration/editor.js), committed with this script
// and package-lock.json: `npm ci && npm run build` in frontend/ rebuilds it.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

// The schema library's Markdown renderer pulls in a syntax highlighter of
// about 1 MB; descriptions here are plain text (src/plain-markdown.js).
const plainMarkdown = {
  name: "plain-markdown",
  setup(b) {
    b.onResolve({ filter: /utils\/markdown(\.js)?$/ }, () => ({
      path: fileURLToPath(new URL("./src/plain-markdown.js", import.meta.url)),
    }));
  },
};

await build({
  entryPoints: ["src/editor.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  outfile: "../orchestration/static/orchestration/editor.js",
  metafile: true,
  plugins: [plainMarkdown],
}).then((result) => {
  const out = Object.values(result.metafile.outputs)[0];
  console.log(`editor.js: ${(out.bytes / 1024).toFixed(0)} KB`);
});
