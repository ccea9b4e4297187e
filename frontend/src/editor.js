// The admin's definition editor: CodeMirror 6 with YAML highlighting, and
// completion and inline errors from the definition's JSON Schema; the
// server's own errors (graph, expressions) arrive from the validate URL and
// show at their line. It enhances the plain textarea, which stays the form
// field: without this file the admin still edits the text.
import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, forceLinting, forEachDiagnostic } from "@codemirror/lint";
import { yamlSchemaLinter, yamlCompletion } from "codemirror-json-schema/yaml";
import { stateExtensions } from "codemirror-json-schema";
import { autocompletion } from "@codemirror/autocomplete";

function serverLinter(url, csrf) {
  // Debounced by the lint extension (delay below); one request at a time.
  return linter(async (view) => {
    const body = new URLSearchParams({ source: view.state.doc.toString() });
    let answer;
    try {
      const response = await fetch(url, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
      });
      if (!response.ok) return [];
      answer = await response.json();
    } catch (e) {
      return [];
    }
    const doc = view.state.doc;
    return answer.errors.map((error) => {
      const line = doc.line(Math.min(Math.max(error.line || 1, 1), doc.lines));
      const from = Math.min(line.from + Math.max((error.column || 1) - 1, 0), line.to);
      // Mark the word the error points at (a key, a step name), not the whole line.
      const word = /^[^\s,:{}\[\]]+/.exec(doc.sliceString(from, line.to));
      const to = word ? from + word[0].length : line.to;
      return { from, to, severity: "error",
               message: error.path + ": " + error.message, source: "server" };
    });
  }, { delay: 600 });
}

function enhance(textarea) {
  const schema = JSON.parse(document.getElementById(textarea.dataset.schema).textContent);
  const csrf = textarea.form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const config = document.getElementById("editor-config");
  const nonce = (config && config.dataset.nonce) || "";
  const english = (document.documentElement.lang || "en").toLowerCase().startsWith("en");
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        EditorView.cspNonce.of(nonce),
        basicSetup,
        keymap.of([indentWithTab]),
        yaml(),
        EditorView.lineWrapping, // no sideways scrolling, on a phone either
        lintGutter(),
        // The schema library words its errors in English only: other languages
        // get the same checks, in their words, from the server's (below).
        ...(english ? [linter(yamlSchemaLinter(), { delay: 300 })] : []),
        serverLinter(textarea.dataset.validate, csrf),
        autocompletion({ override: [yamlCompletion()] }),
        stateExtensions(schema),
        EditorView.contentAttributes.of({ "aria-label": textarea.dataset.label || "Definition (YAML)" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.hidden = true;
  textarea.insertAdjacentElement("afterend", view.dom);
  view.dom.classList.add("definition-editor");
  view.dom.id = textarea.id + "-editor";
  forceLinting(view);
  // For the browser tests and the console: the editor, and its current
  // diagnostics as {line, column, message}.
  window.definitionEditor = view;
  window.definitionDiagnostics = () => {
    const out = [];
    forEachDiagnostic(view.state, (d, from) => {
      const line = view.state.doc.lineAt(from);
      out.push({ line: line.number, column: from - line.from + 1, message: d.message });
    });
    return out;
  };
}

document.querySelectorAll("textarea[data-definition-editor]").forEach(enhance);
