package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.tokenizer.TokenDecoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;

/** Tells a story with the embedded stories15M model (Q8_0 GGUF, made by Herd's converter from llama2.c's file). */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Tell a story with the embedded stories15M model.")
final class DemoCommand implements Callable<Integer> {
    static final String RESOURCE = "/models/stories15M-q8_0.gguf";

    @Option(names = "--prompt", defaultValue = "Once upon a time", description = "How the story starts (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--steps", defaultValue = "256", description = "Positions to run, the prompt included (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--nthreads", defaultValue = "2", description = "Compute threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--temperature", defaultValue = "0.8")
    float temperature;

    @Option(names = "--seed", description = "Random seed (default: the clock).")
    Long seed;

    @Override
    public Integer call() throws IOException {
        Path file = extract();
        try (Model m = Model.open(file, null, 0, threads)) {
            int[] ids = m.encodePrompt(prompt);
            if (ids.length >= Math.min(steps, m.llama.maxSeqLen())) throw new HerdException("--steps " + steps + " leaves no room after the prompt");
            SamplingOptions s = new SamplingOptions();
            s.temperature = temperature;
            s.topP = 0.9f;
            s.seed = seed;
            TokenDecoder decoder = m.tokenizer.decoder();
            System.out.print(prompt);
            Generator.Result r = new Generator(m.llama, s.sampler(m.llama.vocab()), m.eosIds())
                    .generate(ids, 0, Math.min(steps, m.llama.maxSeqLen()) - ids.length, (token, nanos) -> {
                        System.out.print(decoder.next(token));
                        System.out.flush();
                    });
            System.out.println(decoder.flush());
            int decoded = Math.max(r.tokens().length - 1, 0);
            System.err.printf("%n%d tokens, prompt %.1f tok/s, decode %.1f tok/s on %d threads%n", r.tokens().length,
                    r.promptTokens() / (r.promptNanos() / 1e9), decoded / (r.decodeNanos() / 1e9), threads);
        }
        return 0;
    }

    /** The model must be a file to be memory-mapped: copy it out of the jar once, into the user's cache folder. */
    static Path extract() throws IOException {
        Path dir = Path.of(System.getProperty("user.home"), ".cache", "herd");
        Path file = dir.resolve("stories15M-q8_0-" + Main.version() + ".gguf");
        URL url = DemoCommand.class.getResource(RESOURCE);
        if (url == null) throw new HerdException("the embedded model " + RESOURCE + " is missing from the jar");
        URLConnection connection = url.openConnection();
        if (Files.isRegularFile(file) && Files.size(file) == connection.getContentLengthLong()) return file;
        try (InputStream in = connection.getInputStream()) {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "demo-", ".part");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return file;
    }
}
