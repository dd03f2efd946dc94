package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.engine.Sampler;
import picocli.CommandLine.Option;

/** Sampler flags, with distributed-llama's names and defaults. */
final class SamplingOptions {
    @Option(names = "--temperature", defaultValue = "0.8", paramLabel = "T", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--topp", defaultValue = "0.9", paramLabel = "P", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--topk", defaultValue = "0", paramLabel = "K", description = "Keep only the K most likely tokens; 0 = all.")
    int topK;

    @Option(names = "--seed", paramLabel = "N", description = "Random seed; the same seed gives the same text (default: the clock).")
    Long seed;

    Sampler sampler(int vocab) {
        if (temperature < 0) throw new HerdException("--temperature must be >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new HerdException("--topp must be in (0, 1], got " + topP);
        if (topK < 0) throw new HerdException("--topk must be >= 0, got " + topK);
        return new Sampler(vocab, temperature, topK, topP, seed != null ? seed : System.nanoTime());
    }
}
