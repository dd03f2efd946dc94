package dev.herd.cluster;

import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Runner;
import dev.herd.format.GgufFile;
import dev.herd.model.LlamaConfig;

import java.io.PrintStream;
import java.util.List;

/** Runs a model split across the root (this process, node 0) and the given workers. Close it after the model. */
public final class ClusterRunner implements Runner, AutoCloseable {
    private final List<String> workers;
    private final byte[] key;
    private final SyncCodec codec;
    private final KvCache.Storage kv;
    private final PrintStream log;
    private Boolean mesh; // null: the default for the node count
    private Cluster.Timeouts timeouts = Cluster.Timeouts.DEFAULT;
    private Cluster cluster;

    public ClusterRunner(List<String> workers, byte[] key, SyncCodec codec, PrintStream log) {
        this(workers, key, codec, KvCache.Storage.MEMORY, log);
    }

    /** {@code kv}: where every node keeps its KV cache. */
    public ClusterRunner(List<String> workers, byte[] key, SyncCodec codec, KvCache.Storage kv, PrintStream log) {
        this.workers = List.copyOf(workers);
        this.key = key;
        this.codec = codec;
        this.kv = kv;
        this.log = log;
    }

    /** Star (false) or mesh (true) all-reduce, instead of the default for the node count; for tests. */
    ClusterRunner mesh(boolean mesh) {
        this.mesh = mesh;
        return this;
    }

    public ClusterRunner timeouts(Cluster.Timeouts timeouts) {
        this.timeouts = timeouts;
        return this;
    }

    /** Connects to the workers (if not yet) to learn what they can hold. */
    @Override
    public int positionsThatFit(GgufFile file, LlamaConfig config) {
        return connect(file).positionsThatFit(file, config, kv);
    }

    private Cluster connect(GgufFile file) {
        if (cluster == null) cluster = Cluster.connect(workers, file, key, timeouts, log);
        return cluster;
    }

    @Override
    public Llama build(GgufFile file, LlamaConfig config, int maxSeqLen, int threads) {
        Cluster cluster = connect(file);
        long start = System.nanoTime();
        Llama llama = mesh == null ? cluster.load(file, config, maxSeqLen, threads, codec, kv, new LoadBar(log))
                : cluster.load(file, config, maxSeqLen, threads, codec, kv, new LoadBar(log), mesh);
        log.printf("loaded %d workers in %.1f s%n", workers.size(), (System.nanoTime() - start) / 1e9);
        return llama;
    }

    /** Null until the model is built. */
    public Stats stats() {
        return cluster == null ? null : cluster.stats();
    }

    @Override
    public void close() {
        if (cluster != null) cluster.close();
    }

    /** Redraws a bar of the bytes streamed to all workers when the percentage moves. */
    private static final class LoadBar implements Cluster.Progress {
        private final PrintStream log;
        private int shown = -1;

        LoadBar(PrintStream log) {
            this.log = log;
        }

        @Override
        public synchronized void update(long done, long total) {
            int percent = total == 0 ? 100 : (int) (100 * done / total);
            if (percent == shown) return;
            shown = percent;
            log.printf("\rstreaming weights to workers [%-30s] %3d%% of %.1f MiB", "#".repeat(percent * 30 / 100), percent, total / 1048576.0);
            if (percent == 100) log.println();
            log.flush();
        }
    }
}
