// The official openai package against herd api: chat (whole and streamed), stop strings, text completions, errors.
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

await assert.rejects(client.chat.completions.create({...ask, n: 2}), e => e.status === 400 && e.param === 'n');
await assert.rejects(new OpenAI({baseURL: url + '/v1', apiKey: 'wrong', maxRetries: 0}).chat.completions.create(ask), e => e.status === 401);
const models = await client.models.list();
assert.equal(models.data[0].id, 'stories15M-q8_0.gguf');

console.log(`openai: chat, stream (${chunks} chunks), stop, completions, 400 and 401 ok; text: ${JSON.stringify(text)}`);
