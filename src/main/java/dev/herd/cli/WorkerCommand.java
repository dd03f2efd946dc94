package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.cluster.Handshake;
import dev.herd.cluster.Worker;
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

    @Option(names = "--nthreads", defaultValue = "1", paramLabel = "N", description = "Compute threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--cluster-key", paramLabel = "KEY", description = "Serve only a root that proves this key (default: the HERD_CLUSTER_KEY variable; visible in ps, prefer --cluster-key-file).")
    String clusterKey;

    @Option(names = "--cluster-key-file", paramLabel = "FILE", description = "Read the cluster key from the first line of this file.")
    Path clusterKeyFile;

    @Override
    public Integer call() {
        if (threads < 1) throw new HerdException("--nthreads must be at least 1, got " + threads);
        try (Worker w = new Worker(host, port, threads, Handshake.key(clusterKey, clusterKeyFile), System.err)) {
            w.serve();
        } catch (IOException e) {
            throw new HerdException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        return 0;
    }
}
