package dev.herd.cluster;

import dev.herd.engine.Generator;
import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Runner;
import dev.herd.engine.Sampler;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** In-process workers on loopback ports, and a root that runs a model across them (test helper). */
final class LocalCluster implements AutoCloseable {
    final List<Worker> workers = new ArrayList<>();
    final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8);

    LocalCluster(int count, byte[] key) throws IOException {
        for (int i = 0; i < count; i++) {
            Worker w = new Worker("127.0.0.1", 0, 1, key, out);
            workers.add(w);
            Thread.ofPlatform().daemon().name("test-worker-" + i).start(w::serve);
        }
    }

    List<String> addresses() {
        return workers.stream().map(w -> "127.0.0.1:" + w.port()).toList();
    }

    String log() {
        return log.toString(StandardCharsets.UTF_8);
    }

    /** A model opened on this cluster (or on one node when there are no workers), closed with it. */
    static final class Run implements AutoCloseable {
        final GgufFile file;
        final Llama llama;
        final ClusterRunner cluster;

        Run(Path model, List<String> workers, byte[] key, SyncCodec codec, int seqLen) {
            this(model, workers, key, codec, seqLen, KvCache.Storage.MEMORY);
        }

        Run(Path model, List<String> workers, byte[] key, SyncCodec codec, int seqLen, KvCache.Storage kv) {
            file = GgufFile.open(model);
            ModelConfig c = GgufConfig.read(file);
            cluster = workers.isEmpty() ? null : new ClusterRunner(workers, key, codec, kv, new PrintStream(PrintStream.nullOutputStream()));
            Runner runner = cluster == null ? Runner.local(kv) : cluster;
            llama = runner.build(file, c, seqLen, 1);
        }

        int[] greedy(int[] prompt, int tokens) {
            return new Generator(llama, Sampler.greedy(llama.vocab())).generate(prompt, 0, tokens, (t, n) -> {}).tokens();
        }

        @Override
        public void close() {
            llama.close();
            if (cluster != null) cluster.close();
            file.close();
        }
    }

    @Override
    public void close() throws IOException {
        for (Worker w : workers) w.close();
    }
}
