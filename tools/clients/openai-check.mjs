// The official openai package against herd api: chat (whole and streamed), stop strings, text completions, logprobs,
// embeddings, response_format json_schema, a forced tool call and its result, errors.
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

// Structured output: the grammar makes the reply parse and follow the schema whatever the model.
const pet = {type: 'object', properties: {animal: {enum: ['cat', 'dog', 'bird']}, happy: {type: 'boolean'}},
  required: ['animal', 'happy'], additionalProperties: false};
const formatted = await client.chat.completions.create({...ask, max_tokens: 64,
  response_format: {type: 'json_schema', json_schema: {name: 'pet', strict: true, schema: pet}}});
const parsed = JSON.parse(formatted.choices[0].message.content);
assert.ok(['cat', 'dog', 'bird'].includes(parsed.animal) && typeof parsed.happy === 'boolean', 'json_schema: the reply follows the schema');
assert.deepEqual(Object.keys(parsed).sort(), ['animal', 'happy']);

// A tool call forced by name, whole and streamed, then the tool's result sent back.
const weather = {type: 'function', function: {name: 'get_weather', description: 'The weather in a city',
  parameters: {type: 'object', properties: {city: {enum: ['Paris', 'Oslo']}}, required: ['city'], additionalProperties: false}}};
const forced = {...ask, max_tokens: 64, tools: [weather], tool_choice: {type: 'function', function: {name: 'get_weather'}}};
const called = await client.chat.completions.create(forced);
assert.equal(called.choices[0].finish_reason, 'tool_calls');
const call = called.choices[0].message.tool_calls[0];
assert.equal(call.function.name, 'get_weather');
assert.ok(['Paris', 'Oslo'].includes(JSON.parse(call.function.arguments).city), 'tools: arguments follow the parameters');
let streamedCall = null, callFinish = null;
for await (const chunk of await client.chat.completions.create({...forced, stream: true})) {
  streamedCall = chunk.choices[0]?.delta?.tool_calls?.[0] ?? streamedCall;
  callFinish = chunk.choices[0]?.finish_reason ?? callFinish;
}
assert.equal(callFinish, 'tool_calls');
assert.equal(streamedCall.function.arguments, call.function.arguments, 'tools: streamed as whole');
const answered = await client.chat.completions.create({...ask, tools: [weather], messages: [...ask.messages,
  {role: 'assistant', content: null, tool_calls: [call]}, {role: 'tool', tool_call_id: call.id, content: 'sunny'}]});
assert.ok(answered.choices[0].message.content.length > 0 || answered.choices[0].message.tool_calls, 'tools: a reply after the result');

await assert.rejects(client.chat.completions.create({...ask, n: 2}), e => e.status === 400 && e.param === 'n');
await assert.rejects(new OpenAI({baseURL: url + '/v1', apiKey: 'wrong', maxRetries: 0}).chat.completions.create(ask), e => e.status === 401);
const models = await client.models.list();
assert.equal(models.data[0].id, 'stories15M-q8_0.gguf');

console.log(`openai: chat, stream (${chunks} chunks), stop, completions, logprobs, embeddings, json_schema, tool calls, 400 and 401 ok; text: ${JSON.stringify(text)}`);
