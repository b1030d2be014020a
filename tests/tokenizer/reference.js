// Token ids from sluice's tokenizer (tests/tools/tok_dump) against the
// reference, the npm tiktoken package (OpenAI's Rust tiktoken compiled to
// WASM), over generated strings: at least 100,000 per encoding, zero
// mismatches allowed. Prints TAP, one line per (encoding, kind of string).
//
//   node tests/tokenizer/reference.js build/tests/tok_dump [COUNT_PER_KIND]
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');
const modules = path.join(__dirname, '../../tools/node/node_modules');
let tiktoken;
try {
  tiktoken = require(path.join(modules, 'tiktoken'));
} catch (e) {
  console.log('Bail out! the npm tiktoken package is missing (run scripts/setup.sh): ' + e.message);
  process.exit(1);
}
const dump = process.argv[2];
const perKind = Number(process.argv[3] || 9000);

// A seeded generator (mulberry32), so a failure can be reproduced.
let seed = 0x5eed;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const cp = (lo, hi) => String.fromCodePoint(lo + int(hi - lo + 1));
const repeat = (n, f) => Array.from({ length: n }, f).join('');

const words = ('the of and to in is you that it he was for on are as with his they I at be this have ' +
  'from or one had by word but not what all were we when your can said there use an each which she do ' +
  'how their if will up other about out many then them these so some her would make like him into time ' +
  'has look two more write go see number no way could people my than first water been call who oil its ' +
  'now find long down day did get come made may part Hello World JSON HTTP OpenAI GPT camelCase ' +
  'snake_case XMLHttpRequest iPhone McDonald naïve café résumé Straße ÅNGSTRÖM ΑΘΗΝΑ Москва').split(' ');
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M",
  "'LL", "'D", "'ſ", "'x", "'", "''", "'ll've", "’s"];
const punct = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const spaces = [' ', '  ', '\t', '\n', '\r\n', '\r', '\n\n', ' \n ', '\u00a0', '\u3000', '\u2009',
  '\u200b', '\u0085', '\u2028', '\f', '\v', '   \t  '];
const code = ['function f(x) {\n  return x * 2;\n}\n', 'for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}',
  'def main():\n    print("hi")\n\n', '#include <stdio.h>\n', 'SELECT * FROM t WHERE id = 42;',
  '<div class="x">&amp;</div>', '{"key": [1, 2.5, null, true], "s": "a\\nb"}', 'x=>x+1//c\n',
  'a/b/c.txt', 'https://example.com/path?q=1&r=2', '    if (a) {\r\n        b();\r\n    }\r\n'];
const emoji = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '❤️', '✨', '🤖', '1️⃣', '🫠'];
const specials = ['<|endoftext|>', '<|fim_prefix|>', '<|endofprompt|>', '<|im_start|>'];

// Unicode ranges to draw code points from: scripts, marks, numbers, symbols.
const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x250, 0x2ff], [0x300, 0x36f], [0x370, 0x3ff],
  [0x400, 0x4ff], [0x530, 0x58f], [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f], [0x980, 0xdff],
  [0xe00, 0xe7f], [0x10a0, 0x10ff], [0x1100, 0x11ff], [0x1e00, 0x1fff], [0x2000, 0x206f],
  [0x2070, 0x209f], [0x20a0, 0x20cf], [0x2100, 0x214f], [0x2150, 0x218f], [0x2190, 0x23ff],
  [0x2460, 0x24ff], [0x2500, 0x27bf], [0x3000, 0x303f], [0x3040, 0x30ff], [0x3400, 0x4dbf],
  [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfb00, 0xfdff],
  [0xfe00, 0xfe0f], [0xfe30, 0xfe4f], [0xff00, 0xffef], [0x10000, 0x1007f], [0x10400, 0x1044f],
  [0x1d400, 0x1d7ff], [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0x2ebf0, 0x2ee5d], [0xe0000, 0xe007f]];

const kinds = {
  prose: () => repeat(1 + int(30), () => pick(words) + (rand() < 0.15 ? pick(contractions) : '') +
    (rand() < 0.2 ? pick(',.;:!?') : '') + (rand() < 0.1 ? pick(spaces) : ' ')),
  contractions: () => repeat(1 + int(8), () => (rand() < 0.5 ? pick(words) : pick(['', ' ', '!', '1'])) +
    pick(contractions) + (rand() < 0.5 ? pick(['s', 've', 'X', ' ', 'ſ']) : '')),
  code: () => repeat(1 + int(6), () => pick(code)) + (rand() < 0.5 ? pick(spaces) : ''),
  numbers: () => repeat(1 + int(10), () => pick(['', ' ', '-', '.', ',', 'x', 'e', '/']) +
    String(int(10 ** (1 + int(12)))) + (rand() < 0.2 ? cp(0x660, 0x669) + cp(0xbc, 0xbe) : '')),
  whitespace: () => repeat(1 + int(12), () => rand() < 0.7 ? pick(spaces).repeat(1 + int(6))
    : pick(['a', 'Word', '!', '1', '中', '/'])),
  cjk: () => repeat(1 + int(40), () => rand() < 0.8 ? cp(0x4e00, 0x9fff)
    : pick(['，', '。', ' ', 'の', 'か', '한국어', 'AI', '１２３'])),
  emoji: () => repeat(1 + int(15), () => pick(emoji) + (rand() < 0.3 ? pick(words) : '') +
    (rand() < 0.3 ? ' ' : '')),
  mixed_scripts: () => repeat(1 + int(30), () => { const [a, b] = pick(ranges); return cp(a, b); }),
  cases: () => repeat(1 + int(20), () => pick(['A', 'a', 'É', 'é', 'ǅ', 'ʰ', 'ª', '\u0301', '\u0308',
    'Σ', 'ς', 'ﬁ', 'ǈ', 'Ⅻ', 'ⅻ', 'ß', 'ẞ', '\u3005', 'ー', '\u0e31', 'K', 'ſ', "'s", "'S", ' '])),
  specials: () => repeat(1 + int(5), () => pick(specials) + (rand() < 0.5 ? pick(words) : '')),
  any_code_point: () => repeat(1 + int(20), () => {
    let c;
    do c = int(0x110000); while (c >= 0xd800 && c <= 0xdfff);
    return String.fromCodePoint(c);
  }),
};
// Byte strings, not all valid UTF-8 (the reference sees them through
// TextDecoder, which replaces each maximal invalid subpart with U+FFFD).
const byteKinds = {
  invalid_utf8: () => {
    const parts = [];
    for (let i = 0, n = 1 + int(20); i < n; i++) {
      const r = rand();
      if (r < 0.3) parts.push(Buffer.from(pick(words) + ' '));
      else if (r < 0.5) parts.push(Buffer.from([0x80 + int(0x80)]));
      else if (r < 0.6) parts.push(Buffer.from([0xc0 + int(0x40)]));
      else if (r < 0.75) parts.push(Buffer.from([0xe0 + int(0x10), 0x80 + int(0x40)]));
      else if (r < 0.85) parts.push(Buffer.from([0xf0 + int(0x10), 0x80 + int(0x40), 0x80 + int(0x40)]));
      else if (r < 0.9) parts.push(Buffer.from([0xed, 0xa0 + int(0x20), 0x80 + int(0x40)])); // surrogate
      else parts.push(Buffer.from([int(256)]));
    }
    return Buffer.concat(parts);
  },
  // Pieces longer than the array merge's limit go through the heap.
  long_pieces: () => Buffer.from(pick([
    () => ' '.repeat(100 + int(2000)) + 'x',
    () => '\n'.repeat(50 + int(500)),
    () => 'a'.repeat(100 + int(3000)),
    () => repeat(20 + int(200), () => pick(['ab', 'ba', 'abc', 'xyz', 'the'])),
    () => Buffer.from(repeat(100 + int(500), () => String.fromCharCode(int(256))), 'latin1').toString('base64'),
    () => repeat(50 + int(300), () => cp(0x4e00, 0x9fff)),
    () => '!'.repeat(100 + int(500)) + '...' + '='.repeat(200),
    () => repeat(30 + int(100), () => pick(emoji)),
  ])()),
};

function collect() {
  const out = [];
  for (const [name, f] of Object.entries(kinds))
    for (let i = 0; i < perKind; i++) out.push([name, Buffer.from(f())]);
  for (const [name, f] of Object.entries(byteKinds))
    for (let i = 0; i < (name === 'long_pieces' ? perKind / 10 : perKind); i++) out.push([name, f()]);
  return out;
}

const cases = collect();
const input = Buffer.concat(cases.flatMap(([, b]) => {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return [len, b];
}));
const decoder = new TextDecoder('utf-8');
const lines = [];
let failed = 0;
for (const encoding of ['cl100k_base', 'o200k_base']) {
  const enc = tiktoken.get_encoding(encoding);
  const run = spawnSync(dump, [encoding], { input, maxBuffer: 1 << 30 });
  if (run.status !== 0) {
    lines.push(`not ok ${lines.length + 1} - ${encoding}: tok_dump exited ${run.status}: ${run.stderr}`);
    failed++;
    continue;
  }
  const got = run.stdout;
  let at = 0;
  const byKind = new Map();
  for (const [kind, bytes] of cases) {
    const n = got.readUInt32LE(at);
    const ids = Array.from({ length: n }, (_, k) => got.readUInt32LE(at + 4 + 4 * k));
    at += 4 + 4 * n;
    const want = Array.from(enc.encode_ordinary(decoder.decode(bytes)));
    const k = byKind.get(kind) || { n: 0, bad: 0, example: null };
    k.n++;
    if (want.length !== ids.length || want.some((v, i) => v !== ids[i])) {
      k.bad++;
      if (!k.example) k.example = { text: JSON.stringify(decoder.decode(bytes)).slice(0, 200), want: want.slice(0, 20), got: ids.slice(0, 20) };
    }
    byKind.set(kind, k);
  }
  enc.free();
  let total = 0;
  for (const [kind, k] of byKind) {
    total += k.n;
    const ok = k.bad === 0;
    if (!ok) failed++;
    lines.push(`${ok ? 'ok' : 'not ok'} ${lines.length + 1} - ${encoding} ${kind}: ${k.n - k.bad}/${k.n} strings match`);
    if (!ok) lines.push(`# first mismatch: ${k.example.text}\n#   want ${k.example.want}\n#   got  ${k.example.got}`);
  }
  lines.push(`${total >= 100000 || perKind < 9000 ? 'ok' : 'not ok'} ${lines.filter(l => /^(not )?ok/.test(l)).length + 1} - ${encoding}: ${total} strings in all`);
}

// Request bodies: sluice's count against the OpenAI cookbook's formula
// (num_tokens_from_messages, num_tokens_for_tools) computed here with the
// reference tokenizer; image parts count 85 (detail "low") or 765, as
// documented in docs/tokens.md.
function cookbook(enc, body, gpt4o) {
  const len = (s) => enc.encode_ordinary(s).length;
  const trimDot = (s) => (s.endsWith('.') ? s.slice(0, -1) : s);
  let n = 0;
  for (const m of body.messages) {
    n += 3;
    for (const [k, v] of Object.entries(m)) {
      if (typeof v === 'string') n += len(v) + (k === 'name' ? 1 : 0);
      else if (k === 'content' && Array.isArray(v))
        for (const part of v)
          n += typeof part.text === 'string' ? len(part.text) : part.image_url.detail === 'low' ? 85 : 765;
    }
  }
  n += 3;
  const tools = body.tools || [];
  for (const t of tools) {
    const fn = t.function;
    n += gpt4o ? 7 : 10;
    n += len(fn.name + ':' + trimDot(fn.description || ''));
    const props = Object.entries((fn.parameters && fn.parameters.properties) || {});
    if (props.length) n += 3;
    for (const [key, p] of props) {
      n += 3;
      if (p.enum) {
        n -= 3;
        for (const item of p.enum) n += 3 + len(item);
      }
      n += len(`${key}:${p.type}:${trimDot(p.description || '')}`);
    }
  }
  if (tools.length) n += 12;
  return n;
}
const kindNames = Object.keys(kinds);
const someText = () => kinds[pick(kindNames)]() + (rand() < 0.05 ? '\ud800 lone \udfff' : '');
function chatBody() {
  const messages = [];
  for (let i = 0, n = 1 + int(6); i < n; i++) {
    const m = { role: pick(['system', 'user', 'assistant', 'tool', 'developer']) };
    if (rand() < 0.2) {
      m.content = Array.from({ length: 1 + int(3) }, () => rand() < 0.8 ? { type: 'text', text: someText() }
        : { type: 'image_url', image_url: { url: 'https://x/y.png', detail: pick(['low', 'high', 'auto']) } });
    } else m.content = someText();
    if (rand() < 0.2) m.name = pick(['alice', 'Bob_2', 'tool-x']);
    messages.push(m);
  }
  const body = { model: 'x', messages, temperature: 0.5, max_tokens: 100, stream: rand() < 0.5 };
  if (rand() < 0.3) {
    body.tools = Array.from({ length: 1 + int(3) }, (_, i) => {
      const properties = {};
      for (let k = 0, n = int(4); k < n; k++) {
        const p = { type: pick(['string', 'number', 'boolean']), description: pick(['', 'The city.', someText()]) };
        if (rand() < 0.3) p.enum = Array.from({ length: 1 + int(4) }, () => pick(words));
        properties[pick(words) + k] = p;
      }
      return { type: 'function', function: { name: 'fn_' + i, description: pick(['Gets the weather.', someText(), '']),
        parameters: { type: 'object', properties } } };
    });
  }
  return body;
}
for (const [model, encoding, gpt4o] of [['gpt-4o', 'o200k_base', true], ['gpt-4', 'cl100k_base', false]]) {
  const enc = tiktoken.get_encoding(encoding);
  const bodies = Array.from({ length: Math.max(200, perKind / 4) }, chatBody);
  const input = Buffer.concat(bodies.flatMap((b) => {
    const text = Buffer.from(JSON.stringify(b, null, rand() < 0.5 ? 1 : 0));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(text.length);
    return [len, text];
  }));
  const run = spawnSync(dump, ['--request', 'chat/completions', model], { input, maxBuffer: 1 << 30 });
  let bad = 0, example = '';
  bodies.forEach((b, i) => {
    const got = run.status === 0 ? run.stdout.readUInt32LE(8 * i) : -1;
    const want = cookbook(enc, b, gpt4o);
    if (got !== want && !bad++) example = `# first mismatch: want ${want} got ${got}: ${JSON.stringify(b).slice(0, 300)}`;
  });
  enc.free();
  lines.push(`${bad ? 'not ok' : 'ok'} ${lines.filter((l) => /^(not )?ok/.test(l)).length + 1} - ${model} chat requests: ${bodies.length - bad}/${bodies.length} counts match the cookbook formula`);
  if (bad) {
    lines.push(example);
    failed++;
  }
}
const count = lines.filter((l) => /^(not )?ok/.test(l)).length;
console.log(`1..${count}`);
console.log(lines.join('\n'));
process.exit(failed ? 1 : 0);
