"""A small query console at GET /ide, on only when configured (HUB_IDE=1). Everything it
needs is in this page: no script or style comes from anywhere but the hub."""

IDE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The hub: query console</title>
<meta http-equiv="Content-Security-Policy"
      content="default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<style>
 body { font: 14px system-ui, sans-serif; margin: 1rem; display: grid; gap: .5rem;
        grid-template-columns: 1fr 1fr; }
 textarea, pre { font: 13px ui-monospace, monospace; width: 100%; box-sizing: border-box; }
 textarea { height: 18rem; } pre { background: #f4f4f4; padding: .5rem; min-height: 18rem;
 margin: 0; overflow: auto; } .full { grid-column: 1 / 3; }
</style></head><body>
<label class="full">Bearer token <input id="token" size="80" autocomplete="off"></label>
<div><label>Query<textarea id="query">{ viewer { role municipality provider } }</textarea>
</label><label>Variables (JSON)<textarea id="variables" style="height:5rem">{}</textarea>
</label><button id="run">Run (Ctrl+Enter)</button></div>
<pre id="result" aria-live="polite"></pre>
<script>
const $ = (id) => document.getElementById(id);
$("token").value = sessionStorage.getItem("hub-token") || "";
async function run() {
  sessionStorage.setItem("hub-token", $("token").value);
  let variables;
  try { variables = JSON.parse($("variables").value || "{}"); }
  catch (e) { $("result").textContent = "Variables are not JSON: " + e.message; return; }
  const response = await fetch("/graphql", {method: "POST", headers: {
      "content-type": "application/json", "accept": "application/graphql-response+json",
      "authorization": "Bearer " + $("token").value.trim()},
    body: JSON.stringify({query: $("query").value, variables})});
  $("result").textContent = response.status + "\\n" +
    JSON.stringify(await response.json(), null, 2);
}
$("run").addEventListener("click", run);
document.addEventListener("keydown", (e) => { if (e.ctrlKey && e.key === "Enter") run(); });
</script></body></html>
"""
