/**
 * The small XML toolkit the compute agent needs: escaping for the builders, and a
 * parser for the well-formed documents libvirt prints (`virsh dumpxml`, getXMLDesc).
 * It handles elements, attributes, text, comments, CDATA and the XML declaration;
 * it does not resolve entities beyond the five predefined ones and numeric references.
 */

export function esc(s: string | number): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;')
    .replace(/"/g, '&quot;');
}

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function unesc(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|apos|quot);/g, (_m, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

export class XmlParseError extends Error {}

/** Parses one XML document into its root element. Throws XmlParseError. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const fail = (m: string): never => {
    throw new XmlParseError(`${m} at offset ${i}`);
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const textEnd = lt < 0 ? src.length : lt;
    if (textEnd > i) {
      const t = src.slice(i, textEnd);
      if (stack.length) stack[stack.length - 1]!.text += unesc(t);
      else if (t.trim()) fail('text outside the root element');
      i = textEnd;
      continue;
    }
    if (src.startsWith('<!--', i)) {
      const e = src.indexOf('-->', i);
      if (e < 0) fail('unterminated comment');
      i = e + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const e = src.indexOf(']]>', i);
      if (e < 0) fail('unterminated CDATA');
      if (stack.length) stack[stack.length - 1]!.text += src.slice(i + 9, e);
      i = e + 3;
    } else if (src.startsWith('<?', i) || src.startsWith('<!', i)) {
      const e = src.indexOf('>', i);
      if (e < 0) fail('unterminated declaration');
      i = e + 1;
    } else if (src.startsWith('</', i)) {
      const e = src.indexOf('>', i);
      if (e < 0) fail('unterminated end tag');
      const name = src.slice(i + 2, e).trim();
      const top = stack.pop();
      if (!top || top.name !== name) fail(`unexpected </${name}>`);
      i = e + 1;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(src.slice(i, i + 256));
      if (!m) fail('bad start tag');
      const el: XmlElement = { name: m![1]!, attrs: {}, children: [], text: '' };
      i += m![0].length;
      const attrRe = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')|\s*(\/?>)/y;
      let closed = false;
      for (;;) {
        attrRe.lastIndex = i;
        const a = attrRe.exec(src);
        if (!a) fail(`bad attribute in <${el.name}>`);
        i = attrRe.lastIndex;
        if (a![5]) {
          closed = a![5] === '/>';
          break;
        }
        el.attrs[a![1]!] = unesc(a![3] ?? a![4] ?? '');
      }
      if (stack.length) stack[stack.length - 1]!.children.push(el);
      else if (root) fail('second root element');
      else root = el;
      if (!closed) stack.push(el);
    }
  }
  if (stack.length || !root) throw new XmlParseError('unterminated document');
  return root;
}

/** First child with that name (a path like 'devices/disk' descends). */
export function child(el: XmlElement | undefined, path: string): XmlElement | undefined {
  let cur = el;
  for (const p of path.split('/')) cur = cur?.children.find((c) => c.name === p);
  return cur;
}

/** All children with that name (last path segment may match many). */
export function children(el: XmlElement | undefined, path: string): XmlElement[] {
  const parts = path.split('/');
  const last = parts.pop()!;
  const parent = parts.length ? child(el, parts.join('/')) : el;
  return parent?.children.filter((c) => c.name === last) ?? [];
}
