/**
 * A small check of the Prometheus text exposition format (for tests and `doctor`):
 * every line is blank, `# HELP`/`# TYPE`, or `name{labels} value`. Returns the samples
 * keyed by `name{labels}` exactly as printed; throws on the first line that is neither.
 * NaN and ±Inf are read case-insensitively, as Prometheus does (Go's ParseFloat): prom-client
 * prints an empty summary's NaN as `Nan`.
 */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|nan|[+-]?inf)$/i;
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = sample.exec(line);
    if (!m) throw new Error(`not exposition format: ${line}`);
    const v = m[3]!.toLowerCase();
    samples.set(
      m[1] + (m[2] ?? ''),
      v === 'nan' ? Number.NaN : v.endsWith('inf') ? (v.startsWith('-') ? -Infinity : Infinity) : Number(m[3]),
    );
  }
  return samples;
}
