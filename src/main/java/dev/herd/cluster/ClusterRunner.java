package dev.herd.cluster;

import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Runner;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;

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
    private Cluster.Progress progress = (done, total) -> {};
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

    /** Where the weight streaming reports its progress (default: nowhere). */
    public ClusterRunner progress(Cluster.Progress progress) {
        this.progress = progress;
        return this;
    }

    public ClusterRunner timeouts(Cluster.Timeouts timeouts) {
        this.timeouts = timeouts;
        return this;
    }

    /** Connects to the workers (if not yet) to learn what they can hold. */
    @Override
    public int positionsThatFit(GgufFile file, ModelConfig config) {
        return connect(file).positionsThatFit(file, config, kv);
    }

    private Cluster connect(GgufFile file) {
        if (cluster == null) cluster = Cluster.connect(workers, file, key, timeouts, log);
        return cluster;
    }

    @Override
    public Llama build(GgufFile file, ModelConfig config, int maxSeqLen, int slots, int threads) {
        Cluster cluster = connect(file);
        long start = System.nanoTime();
        Llama llama = mesh == null ? cluster.load(file, config, maxSeqLen, slots, threads, codec, kv, progress)
                : cluster.load(file, config, maxSeqLen, slots, threads, codec, kv, progress, mesh);
        log.printf("loaded %d workers in %.1f s%n", workers.size(), (System.nanoTime() - start) / 1e9);
        return llama;
    }

    /** {@link Cluster#unanswered}: the workers that do not answer; none before the cluster is formed. */
    public List<String> unanswered(int millis) {
        return cluster == null ? List.of() : cluster.unanswered(millis);
    }

    /** Null until the model is built. */
    public Stats stats() {
        return cluster == null ? null : cluster.stats();
    }

    @Override
    public void close() {
        if (cluster != null) cluster.close();
    }
}
