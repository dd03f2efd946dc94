package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.codec.Codecs;
import dev.herd.engine.KvCache;
import dev.herd.engine.Llama;
import dev.herd.engine.Model;
import dev.herd.format.FileText;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.tensor.GgmlType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * What running a model on N nodes needs of each node, and moves per token, from the model's header alone, by the rules
 * the cluster applies when it runs it: {@link Cluster#load}'s split ({@link SplitPlan} on the largest block of each
 * column-split matrix's types), each node's tensors as {@link SplitPlan#parts} lists them at the bytes a worker counts
 * before it accepts a plan, the KV cache of the node's KV heads ({@link KvCache#bytes}), the margin a worker keeps
 * free ({@link Budget}), and the messages of one decoded token ({@link RootSync}, {@link WorkerSync}, {@link Mesh},
 * {@link LogitsCodec}), each framed as {@link Wire} frames it.
 */
public final class ClusterPlan {
    /**
     * The JVM beside a session's own buffers, with the flags of the herd script: ~68 MiB idle, then up to its 64 MiB
     * young generation (-Xmn64m), code and class metadata; measured 134-141 MiB on workers holding 112, 131 and
     * 332 MiB of weights and KV cache (docs/cluster.md, PlanMemoryTest).
     */
    public static final long RUNTIME = 140L << 20;
    /** A frame's length and type ahead of its payload. */
    private static final int FRAME = 5;

    public final ModelConfig config;
    public final SplitPlan split;
    public final int maxSeqLen;
    /** Requests served at once, each with its own KV cache of maxSeqLen positions. */
    public final int slots;
    public final SyncCodec codec;
    private final GgufFile header;
    private final int threads;
    private final long tokenizer;
    private final List<Node> nodes;

    /** One node's memory in bytes: its weights, its KV cache and its buffers (the JVM's included). */
    public record Node(int index, long weights, long kv, long buffers, long readPerToken) {
        public long total() {
            return weights + kv + buffers;
        }

        /** What the node must have available: the check a worker makes before it accepts a plan ({@link Budget}). */
        public long needs() {
            return weights + kv + Budget.margin(weights + kv);
        }
    }

    /** Bytes of one decoded token at the root, and at the worker that moves the most. */
    public record Traffic(long rootSent, long rootReceived, long workerSent, long workerReceived) {}

    /**
     * {@code header}: a model file's header ({@link GgufFile#header}) or a described one; {@code threads} per node
     * size the attention scratch.
     */
    public ClusterPlan(GgufFile header, int nodes, int maxSeqLen, SyncCodec codec, int threads) {
        this(header, java.util.Collections.nCopies(Math.max(nodes, 1), 1), maxSeqLen, 1, codec, threads);
    }

    /**
     * A plan whose nodes hold shares in proportion to {@code shares} (the root's first; see {@link SplitPlan}), serving
     * {@code slots} requests at once (`herd api --parallel`), each with a KV cache of the context's length.
     */
    public ClusterPlan(GgufFile header, List<Integer> shares, int maxSeqLen, int slots, SyncCodec codec, int threads) {
        this(header, shares, maxSeqLen, slots, codec, threads, tokenizerBytes(header));
    }

    /** {@link #ClusterPlan(GgufFile, List, int, int, SyncCodec, int)} with the root's tokenizer taking {@code tokenizer} bytes ({@link #tokenizerBytes}). */
    public ClusterPlan(GgufFile header, List<Integer> shares, int maxSeqLen, int slots, SyncCodec codec, int threads, long tokenizer) {
        int nodes = shares.size();
        if (maxSeqLen < 1) throw new HerdException("the context must be at least 1 position, got " + maxSeqLen);
        if (slots < 1) throw new HerdException("the plan needs at least 1 slot, got " + slots);
        this.header = header;
        this.config = GgufConfig.read(header);
        this.maxSeqLen = Math.min(maxSeqLen, config.contextLength());
        this.slots = slots;
        this.codec = codec;
        this.threads = threads;
        this.tokenizer = tokenizer;
        List<GgmlType> wo = new ArrayList<>(), down = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            wo.add(type(ModelTensor.ATTN_OUTPUT.name(l)));
            for (ModelTensor t : ModelTensor.ffnDowns(config)) down.add(type(t.name(l)));
        }
        this.split = SplitPlan.of(config, wo, down, shares);
        if (nodes > 1 && codec == SyncCodec.Q80 && config.dim() % 32 != 0) {
            throw new HerdException("--buffer-float-type q80 needs a model dim divisible by 32; use f32");
        }
        this.nodes = IntStream.range(0, nodes).mapToObj(this::node).toList(); // every tensor checked before anything is used
    }

    public int nodeCount() {
        return split.nodes();
    }

    /** Node 0 is the root: its slice, plus the token embedding that only it holds. */
    public List<Node> nodes() {
        return nodes;
    }

    private Node node(int i) {
        long weights = 0, read = 0;
        for (SplitPlan.Part p : split.parts(config, i, header.hasTensor(ModelTensor.ROPE_FREQS.gguf))) {
            long b = bytes(p);
            weights += b;
            read += p.experts() == 1 ? b : b / p.experts() * config.moe().used(); // a token reads only its experts
        }
        if (i == 0) {
            GgufFile.TensorInfo embedding = tensor(ModelTensor.TOKEN_EMBD.gguf);
            check(embedding, config.vocab(), config.dim());
            weights += embedding.bytes();
            read += embedding.type().bytes(config.dim()); // one row per token
        }
        ModelConfig local = split.local(config, i);
        long positions = (long) slots * maxSeqLen;
        long kv = positions > Integer.MAX_VALUE ? Long.MAX_VALUE : KvCache.bytes(config.layers(), local.kvHeads(), config.headDim(), (int) positions);
        if (kv == Long.MAX_VALUE) {
            throw new HerdException("a KV cache of " + positions + " positions is too large to plan: lower --max-seq-len" + (slots > 1 ? " or --parallel" : ""));
        }
        return new Node(i, weights, kv, RUNTIME + Llama.bufferBytes(local, maxSeqLen, Model.BATCH, threads) + (i == 0 ? tokenizer : 0), read);
    }

    /**
     * The heap the root's tokenizer adds, once loaded ({@link #tokenizerBytes(long, long, boolean)}): the GGUF's own,
     * or, where the header has none, a tokenizer.json of the model's vocabulary with Llama 3's 2.2 merges per token.
     */
    public static long tokenizerBytes(GgufFile header) {
        if (header.metadata().get("tokenizer.ggml.tokens") instanceof String[]) return tokenizerBytes(header.metadata(), false);
        long vocab = GgufConfig.read(header).vocab();
        return tokenizerBytes(vocab, vocab * 22 / 10, true);
    }

    /**
     * {@link #tokenizerBytes(long, long, boolean)} of the tokenizer {@code meta} describes (tokenizer.ggml.tokens and
     * merges, as a GGUF's metadata or TokenizerMetadata hold them); {@code json}: read from a tokenizer.json.
     */
    public static long tokenizerBytes(Map<String, Object> meta, boolean json) {
        int tokens = meta.get("tokenizer.ggml.tokens") instanceof String[] t ? t.length : 0;
        int merges = meta.get("tokenizer.ggml.merges") instanceof String[] m ? m.length : 0;
        return tokenizerBytes(tokens, merges, json);
    }

    /**
     * The old generation a tokenizer of {@code tokens} and {@code merges} holds once loaded (the JVM of the herd script
     * does not give it back): measured 38.4 MiB for Llama 3's 128,256 tokens and 280,147 merges read from a GGUF, whose
     * metadata the root keeps, 75.6 MiB from its tokenizer.json ({@code json}: the parse tree is promoted with it),
     * 1.5 MiB for Llama 2's 32,000 pieces (docs/cluster.md).
     */
    public static long tokenizerBytes(long tokens, long merges, boolean json) {
        return (60 * tokens + 116 * merges) * (json ? 2 : 1);
    }

    /** Whether the all-reduce is a mesh: as the cluster chooses by node count, and only for vectors that fit one. */
    public boolean mesh() {
        return Cluster.mesh(split.nodes()) && codec.bytes(config.dim()) <= Mesh.MAX_BYTES;
    }

    /** Network hops one after another per token: the start, two all-reduces per layer (two hops each through a star), the logits. */
    public int hops() {
        return split.nodes() == 1 ? 0 : 2 + 2 * config.layers() * (mesh() ? 1 : 2);
    }

    /** The bytes of one decoded token (batch 1), without a cluster key (which adds 16 bytes per frame). */
    public Traffic traffic() {
        int workers = split.nodes() - 1;
        long start = FRAME + 12 + 8 + type(ModelTensor.TOKEN_EMBD.gguf).bytes(config.dim()); // header, the row's place, its embedding
        long vector = FRAME + codec.bytes(config.dim());
        long syncs = 2L * config.layers();
        long rootReceived = syncs * workers * vector, workerSent = 0;
        for (int i = 1; i <= workers; i++) {
            long logits = FRAME + LogitsCodec.maxBytes(codec, 1, split.slice(i).vocab());
            rootReceived += logits;
            workerSent = Math.max(workerSent, syncs * (mesh() ? workers : 1) * vector + logits);
        }
        long workerReceived = workers == 0 ? 0 : start + syncs * (mesh() ? workers : 1) * vector;
        return new Traffic(workers * (start + syncs * vector), rootReceived, workerSent, workerReceived);
    }

    /** The part's bytes as a node holds them (a kernel layout larger than the file's counts), checked against the header's shape as a worker checks its blocks. */
    private long bytes(SplitPlan.Part p) {
        GgufFile.TensorInfo t = tensor(p.name());
        check(t, p.experts() * p.rows(), p.cols());
        try {
            return Worker.loadedBytes(p, t.type());
        } catch (Wire.ProtocolException e) {
            throw new HerdException(header.path() + ": " + e.getMessage());
        }
    }

    private void check(GgufFile.TensorInfo t, int rows, int cols) {
        if (t.dims()[0] != cols || t.elements() != (long) rows * cols) {
            throw new HerdException(header.path() + ": tensor " + FileText.quote(t.name()) + " has " + t.elements()
                    + " elements in rows of " + t.dims()[0] + ", expected " + rows + " x " + cols);
        }
    }

    private GgmlType type(String name) {
        return tensor(name).type();
    }

    /**
     * A tensor of the header; the output is the token embedding when the model ties them, and a mixture's experts held
     * one by one (a .m file, an old GGUF) count as the stacked tensor that {@code herd convert} makes of them.
     */
    private GgufFile.TensorInfo tensor(String name) {
        GgufFile.TensorInfo t = header.tensors().get(name);
        if (t == null && name.equals(ModelTensor.OUTPUT.gguf)) t = header.tensors().get(ModelTensor.TOKEN_EMBD.gguf);
        String first = ModelTensor.ExpertTensor.name(name, 0);
        if (t == null && first != null && header.tensors().get(first) instanceof GgufFile.TensorInfo e && config.moe() != null) {
            int n = config.moe().experts();
            t = new GgufFile.TensorInfo(name, new long[]{e.dims()[0], e.dims()[1], n}, e.type(), e.typeId(), e.offset(), e.bytes() * n);
        }
        if (t == null) throw new HerdException(header.path() + ": tensor " + FileText.quote(name) + " is missing");
        if (t.type() == null || !Codecs.reads(t.type())) {
            String type = t.type() == null ? "type id " + t.typeId() : t.type().name();
            throw new HerdException(header.path() + ": tensor " + FileText.quote(name) + " has " + type + ", which Herd does not read");
        }
        return t;
    }
}
