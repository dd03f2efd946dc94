// The official openai package against herd api: chat (whole and streamed), stop strings, text completions, logprobs,
// embeddings, errors.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [url, apiKey] = process.argv.slice(2);
const client = new OpenAI({baseURL: url + '/v1', apiKey, maxRetries: 0});
const ask = {model: 'herd', messages: [{role: 'user', content: 'Tell me a story'}], max_tokens: 12, temperature: 0};

const whole = await client.chat.completions.create(ask);
const text = whole.choices[0].message.content;
assert.ok(text.length > 0, 'chat: some text');
assert.equal(whole.object, 'chat.completion');
assert.equal(whole.choices[0].finish_reason, 'length');
assert.equal(whole.usage.completion_tokens, 12);
assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + 12);

let streamed = '', finish = null, usage = null, chunks = 0;
for await (const chunk of await client.chat.completions.create({...ask, stream: true, stream_options: {include_usage: true}})) {
  chunks++;
  streamed += chunk.choices[0]?.delta?.content ?? '';
  finish = chunk.choices[0]?.finish_reason ?? finish;
  usage = chunk.usage ?? usage;
}
assert.equal(streamed, text, 'stream: the same text as the whole reply');
assert.ok(chunks > 3, 'stream: several chunks');
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 12);

const from = text.indexOf(' ', 4), stop = text.slice(from, from + 4);
const stopped = await client.chat.completions.create({...ask, stop: [stop]});
assert.equal(stopped.choices[0].message.content, text.slice(0, text.indexOf(stop)), 'stop: text cut before the stop string');
assert.equal(stopped.choices[0].finish_reason, 'stop');
let partial = '';
for await (const chunk of await client.chat.completions.create({...ask, stop: [stop], stream: true})) partial += chunk.choices[0]?.delta?.content ?? '';
assert.equal(partial, text.slice(0, text.indexOf(stop)), 'stop: the stream shows no part of the stop string');

const completion = await client.completions.create({model: 'herd', prompt: 'Once upon a time', max_tokens: 8, temperature: 0});
assert.ok(completion.choices[0].text.length > 0);
assert.equal(completion.choices[0].finish_reason, 'length');
assert.equal(completion.usage.completion_tokens, 8);

const scored = await client.chat.completions.create({...ask, logprobs: true, top_logprobs: 3});
const content = scored.choices[0].logprobs.content;
assert.equal(content.length, 12, 'logprobs: one entry per token');
assert.equal(content.map(e => e.token).join('').trim(), text.trim(), 'logprobs: the tokens spell the text');
assert.ok(content.every(e => e.logprob <= 0 && e.top_logprobs.length === 3 && e.top_logprobs[0].token === e.token), 'logprobs: greedy picks the best');
let streamedLogprobs = [];
for await (const chunk of await client.chat.completions.create({...ask, logprobs: true, top_logprobs: 3, stream: true})) {
  streamedLogprobs.push(...(chunk.choices[0]?.logprobs?.content ?? []));
}
assert.deepEqual(streamedLogprobs.map(e => e.token), content.map(e => e.token), 'logprobs: streamed as whole');
const textScored = await client.completions.create({model: 'herd', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, logprobs: 2});
assert.equal(textScored.choices[0].logprobs.tokens.join(''), textScored.choices[0].text, 'completions logprobs: the tokens spell the text');

// The client asks for base64 by default and decodes it; floats when asked.
const embedded = await client.embeddings.create({model: 'herd', input: ['The cat sat on the mat.', 'A rocket flew to the moon.']});
const [a, b] = embedded.data.map(d => d.embedding);
assert.equal(a.length, 288, 'embeddings: stories15M has 288 dimensions');
const dot = (x, y) => x.reduce((s, v, i) => s + v * y[i], 0);
assert.ok(Math.abs(dot(a, a) - 1) < 1e-4 && Math.abs(dot(b, b) - 1) < 1e-4, 'embeddings: unit length');
assert.ok(dot(a, b) < 0.99, 'embeddings: two texts differ');
const floats = await client.embeddings.create({model: 'herd', input: 'The cat sat on the mat.', encoding_format: 'float'});
assert.ok(floats.data[0].embedding.every((v, i) => Math.abs(v - a[i]) < 1e-6), 'embeddings: float and base64 agree, the same text gives the same vector');

await assert.rejects(client.chat.completions.create({...ask, n: 2}), e => e.status === 400 && e.param === 'n');
await assert.rejects(new OpenAI({baseURL: url + '/v1', apiKey: 'wrong', maxRetries: 0}).chat.completions.create(ask), e => e.status === 401);
const models = await client.models.list();
assert.equal(models.data[0].id, 'stories15M-q8_0.gguf');

console.log(`openai: chat, stream (${chunks} chunks), stop, completions, logprobs, embeddings, 400 and 401 ok; text: ${JSON.stringify(text)}`);
