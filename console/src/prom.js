// prom: the Prometheus text format of GET /metrics, read into
// [{ name, labels, value }] (values stay strings until shown).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    }
    out.push({ name: m[1], labels, value: m[4] });
  }
  return out;
}

export function pick(samples, name) {
  return samples.filter((s) => s.name === name);
}

export function one(samples, name) {
  return pick(samples, name)[0]?.value ?? null;
}
