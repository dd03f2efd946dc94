package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.cluster.ClusterPlan;
import dev.herd.cluster.SplitPlan;
import dev.herd.cluster.SyncCodec;
import dev.herd.convert.HfConverter;
import dev.herd.convert.RandomModel;
import dev.herd.convert.WeightTypes;
import dev.herd.engine.ContextLength;
import dev.herd.format.DllamaModel;
import dev.herd.format.FileText;
import dev.herd.format.GgufFile;
import dev.herd.tokenizer.TokenizerMetadata;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * Per node memory, valid node counts, bytes and speed per token of a model on a cluster, from its header, config.json
 * or shape name alone: nothing is loaded, so it runs in seconds on any size and before any machine is wired.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, description = "Plan a cluster before buying or wiring it: memory per node,"
        + " valid node counts, bytes per token and expected tokens/s, from the model's header alone.")
final class PlanCommand implements Callable<Integer> {
    static final double GIB = 1 << 30;

    @Option(names = "--model", required = true, paramLabel = "FILE|config.json|SHAPE",
            description = "A GGUF or distributed-llama .m file (only its header is read), a Hugging Face config.json (or its folder), "
                    + "or a shape: llama3.2-1b, llama3.1-8b, llama3.1-70b, llama3.1-405b, qwen3-8b, qwen3-30b-a3b, mixtral-8x7b.")
    String model;

    @Option(names = "--nodes", required = true, paramLabel = "N", description = "Nodes, the root included.")
    int nodes;

    @Option(names = "--node-weights", split = ",", paramLabel = "W", description = "Each node's weight, root first (as HOST:PORT*W and --root-weight give them): shares in proportion (default: equal).")
    List<Integer> weights = List.of();

    @Option(names = "--max-seq-len", defaultValue = "4096", paramLabel = "N",
            description = "Context (KV cache positions), at most the model's (default: ${DEFAULT-VALUE}).")
    int maxSeqLen;

    @Option(names = "--parallel", defaultValue = "1", paramLabel = "N",
            description = "Requests served at once (herd api --parallel), each with a KV cache of the context's length (default: ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--memory", split = ",", paramLabel = "GIB", description = "Memory of each node in GiB: one value for all, or one per node (root first).")
    List<Double> memory = List.of();

    @Option(names = "--weights-float-type", paramLabel = "TYPE",
            description = "For a config.json or a shape: the types herd convert would write (q40, q80, q4_k_m, q6_k, f16, bf16, f32; default: q40).")
    String weightsFloatType;

    @Option(names = "--buffer-float-type", defaultValue = "q80", paramLabel = "TYPE", description = "Type of the activations nodes exchange: q80 or f32 (default: ${DEFAULT-VALUE}).")
    String bufferFloatType;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "The tokenizer the root will load (tokenizer.json, tokenizer.model or a GGUF), when not the model file's own: it counts in the root's buffers.")
    Path tokenizer;

    @Option(names = "--nthreads", defaultValue = "8", paramLabel = "N", description = "Compute threads per node; sizes the attention scratch (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--memory-bandwidth", split = ",", defaultValue = "10", paramLabel = "GB/S",
            description = "Rate each node reads its weights at, GB/s: one value for all, or one per node; measure it as the model's"
                    + " bytes x the decode tok/s of herd inference on that machine alone (default: ${DEFAULT-VALUE}).")
    List<Double> bandwidth;

    @Option(names = "--link-mbps", defaultValue = "1000", paramLabel = "MBIT/S", description = "Network link speed of the root (default: ${DEFAULT-VALUE}).")
    double linkMbps;

    @Option(names = "--latency-us", defaultValue = "200", paramLabel = "US", description = "One-way network latency per hop, microseconds (default: ${DEFAULT-VALUE}).")
    double latencyUs;

    @Override
    public Integer call() {
        if (threads < 1 || threads > 1024) throw new HerdException("--nthreads must be between 1 and 1024, got " + threads);
        if (parallel < 1 || parallel > ContextLength.MAX_SLOTS) throw new HerdException("--parallel must be between 1 and " + ContextLength.MAX_SLOTS + ", got " + parallel);
        if (!(linkMbps > 0) || !(latencyUs >= 0)) throw new HerdException("--link-mbps must be positive and --latency-us at least 0");
        List<Double> bw = perNode("--memory-bandwidth", bandwidth);
        List<Double> mem = perNode("--memory", memory);
        GgufFile header = header();
        try (header) {
            if (!weights.isEmpty() && weights.size() != nodes) throw new HerdException("--node-weights gives " + weights.size() + " weights for " + nodes + " nodes");
            ClusterPlan plan = new ClusterPlan(header, weights.isEmpty() ? Collections.nCopies(nodes, 1) : weights, maxSeqLen, parallel,
                    SyncCodec.of(bufferFloatType), threads, tokenizer == null ? ClusterPlan.tokenizerBytes(header) : tokenizerBytes(tokenizer));
            print(plan, header, bw, mem, System.out);
        }
        return 0;
    }

    /** A value per node from one value for all or one per node; empty stays empty. */
    private List<Double> perNode(String flag, List<Double> values) {
        if (nodes < 1) throw new HerdException("--nodes must be at least 1, got " + nodes);
        if (values.stream().anyMatch(v -> !(v > 0))) throw new HerdException(flag + " values must be positive");
        if (values.size() == 1) return Collections.nCopies(nodes, values.getFirst());
        if (!values.isEmpty() && values.size() != nodes) {
            throw new HerdException(flag + " gives " + values.size() + " values for " + nodes + " nodes: give one for all, or one per node");
        }
        return values;
    }

    /** The heap the tokenizer in {@code file} takes on the root ({@link ClusterPlan#tokenizerBytes(long, long, boolean)}). */
    private static long tokenizerBytes(Path file) {
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) throw new HerdException("--tokenizer " + file + ": cannot read this file");
        if (GgufFile.isGguf(file)) {
            try (GgufFile g = GgufFile.header(file)) {
                return ClusterPlan.tokenizerBytes(g);
            }
        }
        return ClusterPlan.tokenizerBytes(TokenizerMetadata.read(file), TokenizerMetadata.isJson(file));
    }

    /** The model's header: a file's own, or the one herd convert would write for a config.json or a shape. */
    private GgufFile header() {
        Path path;
        try {
            path = Path.of(model);
        } catch (InvalidPathException e) {
            throw new HerdException("--model " + FileText.quote(model) + " is neither a file nor a shape name");
        }
        if (!Files.exists(path) && (model.contains("/") || model.matches(".*\\.(gguf|m|json|bin)"))) throw new HerdException(model + ": no such file");
        boolean described = !Files.exists(path) || Files.isDirectory(path) || model.endsWith(".json");
        if (!described && weightsFloatType != null) {
            throw new HerdException("--weights-float-type is for a config.json or a shape: a model file's own types are used");
        }
        if (described) {
            WeightTypes types = WeightTypes.parse(weightsFloatType == null ? "q40" : weightsFloatType);
            return HfConverter.header(RandomModel.shapeOf(model), types, path);
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) throw new HerdException(model + ": cannot read this file");
        if (GgufFile.isGguf(path)) return GgufFile.header(path);
        if (DllamaModel.isDllama(path)) return DllamaModel.header(path);
        throw new HerdException(model + ": not a GGUF or distributed-llama .m model (for a Hugging Face model, give its config.json)");
    }

    private void print(ClusterPlan plan, GgufFile header, List<Double> bw, List<Double> mem, PrintStream out) {
        var c = plan.config;
        long tensors = header.tensors().values().stream().mapToLong(GgufFile.TensorInfo::bytes).sum();
        String types = header.tensors().values().stream().map(t -> t.type().name()).distinct().collect(Collectors.joining(", "));
        out.printf("%s: %s, dim %d, %d layers, %d heads (%d KV), FFN %d, vocab %d; %.2f GiB of tensors (%s)%n",
                header.path().getFileName(), c.arch(), c.dim(), c.layers(), c.heads(), c.kvHeads(), c.hidden(), c.vocab(), tensors / GIB, types);
        int n = plan.nodeCount();
        List<Integer> shares = plan.split.shares();
        String weighted = shares.stream().distinct().count() > 1 ? " weighted " + shares.stream().map(String::valueOf).collect(Collectors.joining(":")) : "";
        out.printf("%d node%s%s, context %d of %d positions%s%s; valid node counts: %s%n", n, n == 1 ? "" : "s", weighted, plan.maxSeqLen,
                c.contextLength(), plan.slots == 1 ? "" : " for each of " + plan.slots + " requests at once", n == 1 ? "" : ", " + bufferFloatType + " sync" + (plan.mesh() ? " in a mesh" : " through the root"),
                SplitPlan.validCounts(plan.split.shape(), 64).stream().map(String::valueOf).collect(Collectors.joining(", ")));
        out.printf("%n%-9s %8s %8s %8s %8s %8s%s%n", "GiB", "weights", "KV cache", "buffers", "total", "needs", mem.isEmpty() ? "" : String.format(" %8s", "memory"));
        List<ClusterPlan.Node> nodes = plan.nodes();
        int tooSmall = 0;
        for (int i = 0; i < n; ) {
            String row = row(nodes.get(i), mem);
            int j = i + 1;
            while (j < n && i > 0 && row(nodes.get(j), mem).equals(row)) j++; // workers alike share a row
            out.printf("%-9s%s%n", i == 0 ? "root" : j - i == 1 ? "node " + i : "nodes " + i + "-" + (j - 1), row);
            if (row.endsWith("TOO SMALL")) tooSmall += j - i;
            i = j;
        }
        out.println();
        if (tooSmall > 0) out.printf("%d node%s short of memory: fewer positions (--max-seq-len), more nodes or smaller weights%n", tooSmall, tooSmall == 1 ? " is" : "s are");
        ClusterPlan.Traffic t = plan.traffic();
        double network = (t.rootSent() + t.rootReceived()) / (linkMbps * 1e6 / 8) + plan.hops() * latencyUs / 1e6;
        double start = 0, end = 0;
        int slowest = 0;
        for (ClusterPlan.Node node : nodes) {
            double bytesPerSecond = bw.get(node.index()) * 1e9;
            if (node.readPerToken() / bytesPerSecond > start) slowest = node.index();
            start = Math.max(start, node.readPerToken() / bytesPerSecond);
            end = Math.max(end, (node.readPerToken() + node.kv() / plan.slots) / bytesPerSecond); // one request reads its own cache
        }
        if (n > 1) {
            out.printf("per token: the root sends %s, receives %s; a worker sends %s, receives %s; %d hops%n",
                    kb(t.rootSent()), kb(t.rootReceived()), kb(t.workerSent()), kb(t.workerReceived()), plan.hops());
        }
        out.printf("expected: %s tok/s (%s at the end of the context): compute %.0f ms (node %d), network %.1f ms%n",
                rate(start + network), rate(end + network), start * 1e3, slowest, network * 1e3);
    }

    /** A node's figures in GiB, and whether its memory is enough. */
    private static String row(ClusterPlan.Node n, List<Double> mem) {
        String row = String.format(" %8.2f %8.2f %8.2f %8.2f %8.2f", n.weights() / GIB, n.kv() / GIB, n.buffers() / GIB, n.total() / GIB, n.needs() / GIB);
        if (mem.isEmpty()) return row;
        double has = mem.get(n.index());
        return row + String.format(" %8.2f", has) + (n.needs() <= has * GIB ? "" : "  TOO SMALL");
    }

    /** Tokens per second at {@code seconds} per token, to two significant digits below 10. */
    private static String rate(double seconds) {
        return String.format(1 / seconds < 10 ? "%.2g" : "%.1f", 1 / seconds);
    }

    private static String kb(long bytes) {
        return bytes < 1_000_000 ? String.format("%.1f kB", bytes / 1e3) : String.format("%.2f MB", bytes / 1e6);
    }
}
