package dev.herd.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.herd.HerdException;
import dev.herd.engine.Generation;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.engine.Sequence;
import dev.herd.kernel.VectorWidth;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Benchmark run: generated text to stdout; a summary to stderr after it (and one timing line per token with --stats). */
@Command(name = "inference", mixinStandardHelpOptions = true, description = "Generate text from a prompt and report timings.")
final class InferenceCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The prompt.")
    String prompt;

    @Option(names = "--steps", required = true, paramLabel = "N", description = "Positions to run, the prompt included.")
    int steps;

    @Option(names = "--report", paramLabel = "FILE", description = "Write a JSON report: token ids and per-token timings.")
    Path report;

    @Option(names = "--stats", description = "Also print a timing line per token to stderr (on a terminal, between the pieces of text).")
    boolean stats;

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out, err = System.err;
        if (steps < 1) throw new HerdException("--steps must be >= 1, got " + steps);
        try (ModelOptions.Run run = model.open(steps)) { // the KV cache holds the run's positions, not the whole context
            Model m = run.model();
            Generation generation = new Generation(m);
            Generation.Encoded encoded = generation.encode(prompt);
            int[] ids = encoded.ids();
            long tokenizeNanos = encoded.nanos();
            int room = generation.room(ids.length, steps);
            err.printf("Model %s: %s, %d layers, dim %d, KV cache %d positions, %d threads, %s; prompt %d tokens%s%n", m.name, m.llama.config.arch(),
                    m.llama.config.layers(), m.llama.config.dim(), m.llama.maxSeqLen(), model.threads, VectorWidth.describe(), ids.length,
                    m.warmUp == null ? "" : String.format("; warmed up at load in %.2f s (%d round%s)", m.warmUp.nanos() / 1e9, m.warmUp.rounds(), m.warmUp.rounds() == 1 ? "" : "s"));
            List<Map<String, Object>> perToken = new ArrayList<>();
            Traffic traffic = new Traffic(run.stats());
            out.print(prompt);
            out.flush();
            Generator.Result r = generation.run(ids, 0, room, new Sequence(m, sampling.sampler(m.llama.vocab()), piece -> {
                if (piece.token() >= 0) { // not the end, which only brings text held back until then
                    Traffic.Step t = traffic.step(piece.nanos());
                    if (stats && perToken.isEmpty()) err.printf("Eval %s | %d prompt tokens%n", t, ids.length);
                    else if (stats) err.printf("Pred %s | %s%n", t, printable(piece.text()));
                    perToken.add(timing(piece.token(), t));
                }
                out.print(piece.text());
                out.flush();
            })).run();
            out.println();
            // Prompt tok/s counts the prompt's forward passes alone; time to first token adds tokenizing and sampling.
            double promptTokS = r.promptPerSecond(), decodeTokS = r.decodePerSecond();
            double ttftMs = (tokenizeNanos + r.firstTokenNanos()) / 1e6;
            int decoded = r.decodeSteps();
            err.printf("Prompt:  %d tokens, %.2f tok/s (%.2f ms/tok)%n", r.promptTokens(), promptTokS, r.promptNanos() / 1e6 / r.promptTokens());
            err.printf("TTFT:    %.2f ms (tokenize %.2f ms, prompt %.2f ms, first sample %.2f ms)%n", ttftMs, tokenizeNanos / 1e6,
                    r.promptNanos() / 1e6, (r.firstTokenNanos() - r.promptNanos()) / 1e6);
            err.printf("Decode:  %d tokens, %.2f tok/s (%.2f ms/tok)%n", decoded, decodeTokS, decoded == 0 ? 0 : r.decodeNanos() / 1e6 / decoded);
            err.printf("Stopped: %s%n", r.stop().name().toLowerCase());
            if (run.stats() != null) {
                int listened = Math.max(r.tokens().length - 1, 1); // the steps Traffic saw (not the one that gave EOS)
                err.printf("Sync:    %.2f ms/token, sent %.1f kB/token, received %.1f kB/token (decode average)%n",
                        traffic.decodeSyncMs() / listened, traffic.decodeSent() / 1000.0 / listened, traffic.decodeReceived() / 1000.0 / listened);
            }
            if (report != null) {
                Map<String, Object> json = new LinkedHashMap<>();
                json.put("model", model.model.toString());
                json.put("threads", model.threads);
                json.put("vectorBits", VectorWidth.BITS);
                json.put("nodes", model.workers.size() + 1);
                json.put("bufferFloatType", model.bufferFloatType);
                json.put("prompt", prompt);
                json.put("promptIds", ids);
                json.put("generatedIds", r.tokens());
                json.put("text", m.tokenizer.decode(r.tokens()));
                json.put("stop", r.stop().name().toLowerCase());
                json.put("promptMs", r.promptNanos() / 1e6);
                json.put("promptTokensPerSecond", promptTokS);
                json.put("decodeTokensPerSecond", decodeTokS);
                json.put("tokenizeMs", tokenizeNanos / 1e6);
                json.put("timeToFirstTokenMs", ttftMs);
                json.put("decodeMs", r.decodeNanos() / 1e6);
                json.put("decodeSteps", decoded);
                json.put("warmUpMs", m.warmUp == null ? 0 : m.warmUp.nanos() / 1e6);
                json.put("tokens", perToken);
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(report.toFile(), json);
            }
        }
        return 0;
    }

    private static Map<String, Object> timing(int token, Traffic.Step t) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("id", token);
        json.put("evalMs", t.evalMs());
        json.put("syncMs", t.syncMs());
        json.put("sentBytes", t.sent());
        json.put("receivedBytes", t.received());
        return json;
    }

    /** A piece for a one-line log: control characters escaped. */
    static String printable(String piece) {
        return piece.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
    }
}
