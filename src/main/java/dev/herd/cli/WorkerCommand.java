package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.cluster.Handshake;
import dev.herd.cluster.Worker;
import dev.herd.engine.KvCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** A worker: no model file; serves one root at a time and listens again when a session ends. */
@Command(name = "worker", mixinStandardHelpOptions = true, description = "Serve a root: receive a slice of its model and compute it.")
final class WorkerCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "9998", description = "Port to listen on (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--host", defaultValue = "0.0.0.0", paramLabel = "ADDR", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--nthreads", paramLabel = "N", description = "Compute threads (default: the available processors, ${DEFAULT-VALUE} here).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--kv-cache-dir", paramLabel = "DIR", description = "Folder of the KV cache when a root asks for it on disk (default: $XDG_CACHE_HOME/herd/kv or ~/.cache/herd/kv).")
    Path kvCacheDir = KvCache.Storage.defaultDir();

    @Option(names = "--slice-cache", paramLabel = "DIR", description = "Folder where the slices received are kept, so a restarted worker gets only what it lacks (default: $XDG_CACHE_HOME/herd/slices or ~/.cache/herd/slices).")
    Path sliceCache = Worker.defaultSliceDir();

    @Option(names = "--slice-cache-max-gib", paramLabel = "GIB", defaultValue = "64", description = "Largest size of the slice cache; the least recently used models go first (default: ${DEFAULT-VALUE}).")
    double sliceCacheMaxGib;

    @Option(names = "--no-slice-cache", description = "Keep no slices: the root streams them all at every start.")
    boolean noSliceCache;

    @Option(names = "--cluster-key", paramLabel = "KEY", description = "Serve only a root that proves this key (default: the HERD_CLUSTER_KEY variable; visible in ps, prefer --cluster-key-file).")
    String clusterKey;

    @Option(names = "--cluster-key-file", paramLabel = "FILE", description = "Read the cluster key from the first line of this file.")
    Path clusterKeyFile;

    @Option(names = "--root-timeout-ms", defaultValue = "30000", paramLabel = "MS",
            description = "A root silent this long in a session is gone: the worker frees the session and listens again; roots ping every 2 s (default: ${DEFAULT-VALUE}).")
    int rootTimeoutMs;

    @Override
    public Integer call() {
        if (threads < 1) throw new HerdException("--nthreads must be at least 1, got " + threads);
        if (rootTimeoutMs < 6_000) throw new HerdException("--root-timeout-ms must be at least 6000 (3 of the root's pings), got " + rootTimeoutMs);
        if (!(sliceCacheMaxGib > 0) || sliceCacheMaxGib > 1 << 20) throw new HerdException("--slice-cache-max-gib must be above 0, got " + sliceCacheMaxGib);
        try (Worker w = new Worker(host, port, threads, Handshake.key(clusterKey, clusterKeyFile), kvCacheDir,
                noSliceCache ? null : sliceCache, (long) (sliceCacheMaxGib * (1L << 30)), System.err)) {
            w.rootTimeout(rootTimeoutMs).serve();
        } catch (IOException e) {
            throw new HerdException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        return 0;
    }
}
