// A readable reference of the API, rendered in the browser from the OpenAPI document itself (no
// third-party script: the page works offline and cannot disagree with the routes).
export function referencePage(documentUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>AiCarpool API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}
.op{border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.5rem .75rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;text-transform:uppercase}
.perm{float:right;font-size:.8rem;background:#eef;padding:0 .4rem;border-radius:4px}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:.8rem}
summary{cursor:pointer}
</style></head>
<body><h1>AiCarpool API</h1><p id="intro"></p><main id="ops">Loading…</main>
<script type="module">
const doc = await (await fetch(${JSON.stringify(documentUrl)})).json();
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
document.getElementById('intro').textContent = doc.info.description ?? '';
const ops = document.getElementById('ops'); ops.textContent = '';
const byResource = new Map();
for (const [path, item] of Object.entries(doc.paths ?? {})) {
  const resource = path.split('/')[1] ?? '';
  for (const [method, op] of Object.entries(item)) {
    if (!byResource.has(resource)) byResource.set(resource, []);
    byResource.get(resource).push({ path, method, op });
  }
}
const ref = (schema) => JSON.stringify(schema, null, 2).replaceAll('#/components/schemas/', '');
for (const [resource, list] of byResource) {
  ops.append(el('h2', '/' + resource));
  for (const { path, method, op } of list) {
    const box = el('div', '', 'op');
    box.append(el('span', method, 'm'), el('code', path), el('span', op['x-permission'] ?? '', 'perm'));
    if (op.summary) box.append(el('div', op.summary));
    const details = el('details'); details.append(el('summary', 'request and responses'));
    const body = op.requestBody?.content?.['application/json']?.schema;
    if (body) details.append(el('div', 'Body'), el('pre', ref(body)));
    for (const [status, r] of Object.entries(op.responses ?? {})) {
      details.append(el('div', status + ' ' + (r.description ?? '')));
      const s = r.content?.['application/json']?.schema; if (s) details.append(el('pre', ref(s)));
    }
    box.append(details); ops.append(box);
  }
}
ops.append(el('h2', 'Schemas'));
for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
  const d = el('details'); d.append(el('summary', name), el('pre', ref(schema))); ops.append(d);
}
</script></body></html>`;
}
