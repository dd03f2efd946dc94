// llama.cpp's next-token log-probabilities on the tokens Herd saved, in Herd's own file form (HERDLP01, see
// src/main/java/dev/herd/cli/LogProbFile.java), so that `herd perplexity --kl-divergence` compares the two.
// usage: node llama-logprobs.mjs MODEL.gguf HERD.lp OUT.lp [threads=2]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readFileSync, writeFileSync} from "node:fs";

const [,, modelPath, herdPath, outPath, threadsS = "2"] = process.argv;
const herd = readFileSync(herdPath);
if (herd.toString("latin1", 0, 8) !== "HERDLP01") throw new Error(herdPath + ": not a HERDLP01 file");
const vocab = herd.readInt32LE(8);
const windows = [];
for (let at = 12; at < herd.length;) {
  const n = herd.readInt32LE(at);
  const ints = (from) => Array.from({length: n}, (_, i) => herd.readInt32LE(from + 4 * i));
  windows.push({input: ints(at + 4), target: ints(at + 4 + 4 * n)});
  at += 4 + 8 * n + 4 * n * vocab;
}

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
if (model.tokens.vocabSize !== undefined && model.tokens.vocabSize !== vocab) {
  throw new Error(`${modelPath}: llama.cpp reads a vocabulary of ${model.tokens.vocabSize}, Herd's file has ${vocab}`);
}
const longest = Math.max(...windows.map(w => w.input.length));
const context = await model.createContext({contextSize: Math.max(longest, 64), batchSize: longest, threads: +threadsS});
const sequence = context.getSequence();
// The full distribution: no temperature, no top-k/top-p/min-p cut.
const next = {generateNext: {probabilities: true, options: {temperature: 1, topK: 0, topP: 1, minP: 0}}};
const parts = [Buffer.from("HERDLP01", "latin1"), int32s([vocab])];
for (const w of windows) {
  await sequence.clearHistory();
  const results = await sequence.controlledEvaluate(w.input.map(t => [t, next]));
  const lp = new Float32Array(w.input.length * vocab).fill(-Infinity);
  results.forEach((r, p) => {
    let sum = 0;
    for (const v of r.next.probabilities.values()) sum += v;
    for (const [token, prob] of r.next.probabilities) lp[p * vocab + token] = Math.log(prob / sum);
  });
  parts.push(int32s([w.input.length]), int32s(w.input), int32s(w.target), Buffer.from(lp.buffer));
}
writeFileSync(outPath, Buffer.concat(parts));
await context.dispose();
await model.dispose();

function int32s(values) {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeInt32LE(v, 4 * i));
  return b;
}
