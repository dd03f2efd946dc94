package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.Stats;
import dev.herd.cluster.SyncCodec;
import dev.herd.cluster.Worker;
import dev.herd.engine.Runner;
import dev.herd.engine.Generation;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.engine.Sequence;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Tells a story with the embedded stories15M model (Q8_0 GGUF, made by Herd's converter from llama2.c's file), split
 * by default across a local cluster: this process as the root and two workers on loopback, as separate machines
 * would run it.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Tell a story with the embedded stories15M model, on a local cluster of the root and 2 workers.")
final class DemoCommand implements Callable<Integer> {
    static final String RESOURCE = "/models/stories15M-q8_0.gguf";

    @Option(names = "--prompt", defaultValue = "Once upon a time", description = "How the story starts (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--steps", defaultValue = "256", description = "Positions to run, the prompt included (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--nthreads", paramLabel = "N", description = "Compute threads per node (default: the available processors shared among the nodes, at least 1).")
    Integer threads;

    @Option(names = "--nodes", defaultValue = "3", description = "1 (this process alone) or 3 (root and 2 local workers; default).")
    int nodes;

    @Option(names = "--temperature", defaultValue = "0.8")
    float temperature;

    @Option(names = "--seed", description = "Random seed (default: the clock).")
    Long seed;

    @Override
    public Integer call() throws IOException {
        if (nodes != 1 && nodes != 3) throw new HerdException("--nodes must be 1 or 3 (stories15M's 6 heads of 48 values split into whole Q8_0 blocks only so)");
        if (threads != null && threads < 1) throw new HerdException("--nthreads must be at least 1, got " + threads);
        int threads = this.threads != null ? this.threads : Math.max(1, Runtime.getRuntime().availableProcessors() / nodes);
        Path file = extract();
        List<Worker> workers = new ArrayList<>();
        try {
            for (int i = 1; i < nodes; i++) {
                Worker w = new Worker("127.0.0.1", 0, threads, null, new PrintStream(OutputStream.nullOutputStream()));
                workers.add(w);
                Thread.ofPlatform().daemon().name("demo-worker-" + i).start(w::serve);
            }
            List<String> addresses = workers.stream().map(w -> "127.0.0.1:" + w.port()).toList();
            try (ClusterRunner cluster = nodes == 1 ? null : new ClusterRunner(addresses, null, SyncCodec.Q80, new PrintStream(OutputStream.nullOutputStream()));
                 Model m = Model.open(file, null, 0, threads, cluster == null ? Runner.LOCAL : cluster)) {
                tell(m, cluster == null ? null : cluster.stats());
            }
        } finally {
            for (Worker w : workers) w.close();
        }
        return 0;
    }

    private void tell(Model m, Stats stats) {
        Generation generation = new Generation(m);
        Generation.Encoded prompted = generation.encode(prompt);
        int[] ids = prompted.ids();
        int room = generation.room(ids.length, steps);
        SamplingOptions s = new SamplingOptions();
        s.temperature = temperature;
        s.topP = 0.9f;
        s.seed = seed;
        Traffic traffic = new Traffic(stats);
        System.out.print(prompt);
        Generator.Result r = generation.run(ids, 0, room, new Sequence(m, s.sampler(m.llama.vocab()), piece -> {
            if (piece.token() >= 0) traffic.step(piece.nanos());
            System.out.print(piece.text());
            System.out.flush();
        })).run();
        System.out.println();
        int per = Math.max(r.tokens().length - 1, 1); // the decode steps Traffic saw
        System.err.printf("%n%d tokens on %s: prompt %.1f tok/s, TTFT %.0f ms, decode %.1f tok/s%n", r.tokens().length,
                nodes == 1 ? "1 node" : nodes + " nodes (this process and 2 workers on loopback)",
                r.promptPerSecond(), (prompted.nanos() + r.firstTokenNanos()) / 1e6, r.decodePerSecond());
        if (stats != null) {
            System.err.printf("per token: sync %.2f ms, root sent %.1f kB, received %.1f kB (q80 activations)%n",
                    traffic.decodeSyncMs() / per, traffic.decodeSent() / 1000.0 / per, traffic.decodeReceived() / 1000.0 / per);
        }
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
