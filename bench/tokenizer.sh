#!/usr/bin/env bash
# bench/tokenizer.sh: token counting throughput of sluice's tokenizer next
# to the reference, the npm tiktoken package (OpenAI's Rust tiktoken as
# WASM), on one core each (taskset CPU0), over the same corpus cut into
# chat-message-sized chunks. The corpus is this repository's own text (docs
# and C sources, mostly English and code) plus generated CJK, emoji and
# whitespace-heavy chunks, about 8 MB. The token totals of both must agree.
# Goal (issue 11): at least 2x the reference on one core.
#
#   bash bench/tokenizer.sh            # CHUNK=4096 ROUNDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
CHUNK=${CHUNK:-4096}
ROUNDS=${ROUNDS:-5}
corpus=$(mktemp /tmp/sluice-tok-corpus-XXXXXX)
trap 'rm -f "$corpus"' EXIT
CORPUS="$corpus" node -e '
const fs = require("fs"), out = [];
for (const f of process.argv.slice(1)) out.push(fs.readFileSync(f, "utf8"));
let seed = 7; const r = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const cjk = () => String.fromCodePoint(0x4e00 + Math.floor(r() * 0x5000));
for (let i = 0; i < 400; i++) {
  let s = "";
  for (let k = 0; k < 300; k++) s += r() < 0.85 ? cjk() : "，。 😀👍🏽\n"[Math.floor(r() * 8)];
  out.push(s + "\n", "    ".repeat(1 + Math.floor(r() * 20)) + "indented line\n");
}
let text = out.join("\n");
while (Buffer.byteLength(text) < 8e6) text += "\n" + text;
fs.writeFileSync(process.env.CORPUS, text);
' README.md docs/*.md $(git ls-files 'src/*.c' 'src/*.h')
echo "corpus: $(du -h "$corpus" | cut -f1), chunks of ~$CHUNK bytes, best of $ROUNDS, CPU0"
for enc in cl100k_base o200k_base; do
  taskset -c 0 ${BUILD:-build}/tokenizer_bench "$enc" "$corpus" "$CHUNK" "$ROUNDS"
  taskset -c 0 node bench/tokenizer_bench.js "$enc" "$corpus" "$CHUNK" "$ROUNDS"
done
