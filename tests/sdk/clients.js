// The official SDKs as clients of sluice serve (tests/e2e/test_sdk.c starts
// the mocks and the gateway and runs this with its URL): the OpenAI SDK's
// chat completions, Responses API and models, and the Anthropic SDK's
// Messages API (JSON, streamed, count_tokens), each to an OpenAI-format and
// an Anthropic deployment, the Responses API passed through to a deployment
// that serves it, and each SDK's error classes for the gateway's errors. Prints one TAP line per check; exits 1 if any failed.
'use strict';
const path = require('path');
const modules = path.join(__dirname, '..', '..', 'tools', 'node', 'node_modules');
const OpenAI = require(path.join(modules, 'openai')).default;
const Anthropic = require(path.join(modules, '@anthropic-ai', 'sdk')).default;

const base = process.argv[2];
let n = 0, failed = 0;
async function check(name, fn) {
  n++;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  }
}
function assert(cond, what) {
  if (!cond) throw new Error(what);
}

async function main() {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-test', maxRetries: 0 });
  for (const model of ['gpt', 'claude']) {
    await check(`openai chat ${model}`, async () => {
      const r = await openai.chat.completions.create({ model, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] });
      assert(r.choices[0].message.content.length > 0, 'no content');
      assert(r.usage.completion_tokens === 4, `usage ${JSON.stringify(r.usage)}`);
    });
    await check(`openai chat stream ${model}`, async () => {
      const s = await openai.chat.completions.create({ model, max_tokens: 4, stream: true, messages: [{ role: 'user', content: 'hi' }] });
      let text = '', finish = null;
      for await (const c of s) {
        if (c.choices[0]) {
          text += c.choices[0].delta.content || '';
          finish = c.choices[0].finish_reason || finish;
        }
      }
      assert(text.length > 0 && finish === 'stop', `text '${text}' finish ${finish}`);
    });
    await check(`openai responses ${model}`, async () => {
      const r = await openai.responses.create({ model, instructions: 'be brief', input: 'hi', max_output_tokens: 4 });
      assert(r.status === 'completed', `status ${r.status}`);
      assert(r.output_text.length > 0, 'no output_text');
      assert(r.usage.output_tokens === 4, `usage ${JSON.stringify(r.usage)}`);
    });
    await check(`openai responses stream ${model}`, async () => {
      const s = await openai.responses.create({ model, input: 'hi', max_output_tokens: 4, stream: true });
      let text = '', done = null;
      for await (const e of s) {
        if (e.type === 'response.output_text.delta') text += e.delta;
        if (e.type === 'response.completed') done = e.response;
      }
      assert(text.length > 0, 'no deltas');
      assert(done && done.output[0].content[0].text === text, 'response.completed says another text');
    });
    await check(`anthropic messages ${model}`, async () => {
      const m = await anthropic.messages.create({ model, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] });
      assert(m.type === 'message' && m.content[0].type === 'text' && m.content[0].text.length > 0, JSON.stringify(m));
      assert(m.usage.output_tokens === 4, `usage ${JSON.stringify(m.usage)}`);
    });
    await check(`anthropic messages stream ${model}`, async () => {
      const s = anthropic.messages.stream({ model, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] });
      let text = '';
      s.on('text', (t) => { text += t; });
      const m = await s.finalMessage();
      assert(text.length > 0 && m.content[0].text === text, `text '${text}' vs ${JSON.stringify(m.content)}`);
      assert(m.stop_reason === 'end_turn', `stop_reason ${m.stop_reason}`);
    });
  }
  // a deployment that serves the Responses API itself (responses: native):
  // what only it can do (previous_response_id) goes through, JSON and streamed
  await check('openai responses native previous_response_id', async () => {
    const r = await openai.responses.create({ model: 'gpt-native', input: 'hi', previous_response_id: 'resp_1', max_output_tokens: 4 });
    assert(r.status === 'completed' && r.previous_response_id === 'resp_1', JSON.stringify(r));
    assert(r.output_text.length > 0 && r.usage.output_tokens === 4, JSON.stringify(r));
  });
  await check('openai responses native stream', async () => {
    const s = openai.responses.stream({ model: 'gpt-native', input: 'hi', previous_response_id: 'resp_1', max_output_tokens: 4 });
    let text = '';
    s.on('response.output_text.delta', (e) => { text += e.delta; });
    const r = await s.finalResponse();
    assert(text.length > 0 && r.output[0].content[0].text === text, `text '${text}' vs ${JSON.stringify(r.output)}`);
    assert(r.previous_response_id === 'resp_1', JSON.stringify(r));
  });
  await check('anthropic count_tokens', async () => {
    const c = await anthropic.messages.countTokens({ model: 'claude', messages: [{ role: 'user', content: 'hello there' }] });
    assert(c.input_tokens > 0, JSON.stringify(c));
  });
  await check('openai models.retrieve', async () => {
    const m = await openai.models.retrieve('gpt');
    assert(m.id === 'gpt', JSON.stringify(m));
  });
  await check('openai NotFoundError for an unknown model', async () => {
    try {
      await openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
      throw new Error('no error');
    } catch (e) {
      assert(e instanceof OpenAI.NotFoundError, `${e.constructor.name}: ${e.message}`);
    }
  });
  await check('anthropic NotFoundError for an unknown model', async () => {
    try {
      await anthropic.messages.create({ model: 'nope', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] });
      throw new Error('no error');
    } catch (e) {
      assert(e instanceof Anthropic.NotFoundError, `${e.constructor.name}: ${e.message}`);
      assert(e.error && e.error.type === 'error' && e.error.error.type === 'not_found_error', JSON.stringify(e.error));
    }
  });
  await check('anthropic BadRequestError names the field', async () => {
    try {
      await anthropic.messages.create({ model: 'gpt', max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] }] });
      throw new Error('no error');
    } catch (e) {
      assert(e instanceof Anthropic.BadRequestError, `${e.constructor.name}: ${e.message}`);
      assert(/messages\[0\]\.content\[0\]/.test(e.message), e.message);
    }
  });
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log(`not ok - ${e.stack}`); process.exit(1); });
