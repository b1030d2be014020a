// The reference side of bench/tokenizer.sh: the npm tiktoken package's
// encode_ordinary over the same chunks as bench/tokenizer_bench.c (the
// same cut: about CHUNK bytes, ended at a newline; strings decoded before
// timing), best of ROUNDS.
//
//   node bench/tokenizer_bench.js ENCODING FILE [CHUNK] [ROUNDS]
'use strict';
const fs = require('fs');
const path = require('path');
const { get_encoding } = require(path.join(__dirname, '../tools/node/node_modules/tiktoken'));
const [encoding, file] = process.argv.slice(2);
const chunk = Number(process.argv[4] || 4096);
const rounds = Number(process.argv[5] || 5);
const bytes = fs.readFileSync(file);
const strings = [];
for (let at = 0; at < bytes.length;) {
  let end = Math.min(at + chunk, bytes.length);
  while (end < bytes.length && bytes[end - 1] !== 0x0a) end++;
  strings.push(new TextDecoder().decode(bytes.subarray(at, end)));
  at = end;
}
let t0 = process.hrtime.bigint();
const enc = get_encoding(encoding);
const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
let best = Infinity, tokens = 0;
for (let r = 0; r < rounds; r++) {
  tokens = 0;
  t0 = process.hrtime.bigint();
  for (const s of strings) tokens += enc.encode_ordinary(s).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log(`tiktoken ${encoding.padEnd(11)} ${(bytes.length / best / 1e6).toFixed(1).padStart(8)} MB/s ` +
  `${(tokens / best).toFixed(0).padStart(10)} tokens/s  (${tokens} tokens, ${strings.length} chunks, ` +
  `tables built in ${buildMs.toFixed(0)} ms)`);
