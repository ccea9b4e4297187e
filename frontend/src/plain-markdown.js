// Stands in for codemirror-json-schema's Markdown renderer (markdown-it with
// shiki: about 1 MB) in the bundle: the schema's descriptions are plain
// sentences, shown as escaped text.
export function renderMarkdown(text) {
  const div = document.createElement("div");
  div.textContent = String(text ?? "");
  return div.innerHTML;
}
