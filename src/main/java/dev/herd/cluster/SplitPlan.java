package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.model.ModelTensor.Cut;
import dev.herd.tensor.GgmlType;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * How one model is split across {@code nodes} machines (tensor parallelism, after distributed-llama section 1.3).
 * Which tensor is cut how is in the table of tensors ({@link ModelTensor}: cut and axis); this class turns a node's
 * ranges into its parts. Per layer, node i holds:
 * <ul>
 *   <li>Wq rows of its query heads; Wk, Wv rows of the KV heads those queries use (whole heads), and the KV cache of
 *       those KV heads only; a Q/K/V bias (Qwen2) the values of the same rows. With more nodes than KV heads, each KV head is replicated on the nodes that share it.</li>
 *   <li>Wo columns of its query heads: its partial output is a full dim vector, summed across nodes (sync 1).</li>
 *   <li>W1, W3 rows [hiddenFrom, hiddenTo); W2 the same columns: partial dim vector, summed (sync 2). A mixture of
 *       experts: the same of every expert (hidden is an expert's width), and the router whole, so that the experts
 *       a token chooses keep every node busy and their partial sums join the same sync; a shared expert (k times an
 *       expert's width) rows [k hiddenFrom, k hiddenTo), its gate whole.</li>
 *   <li>the output matrix rows [vocabFrom, vocabTo): its slice of the logits, gathered by the root.</li>
 *   <li>norms (also Qwen3's per-head q/k norms) replicated; the token embedding on the root only.</li>
 * </ul>
 * Column slices must fall on quantization block boundaries, so that each node's slice is whole blocks.
 *
 * <p>{@code shares}: each node's weight (all 1: equal slices). With unequal weights (a slower or smaller machine gets
 * less) a node gets KV heads (and their query heads), FFN rows and vocabulary rows in proportion to its weight, in
 * whole KV heads and whole units of {@link #hiddenUnit} FFN rows; every node needs at least one of each, so unequal
 * weights need at most as many nodes as KV heads.
 */
public record SplitPlan(int nodes, Shape shape, List<Integer> shares) {

    /**
     * The dimensions that decide a split. {@code woBlock} and {@code downBlock}: the block sizes of the column-split
     * matrices (Wo, W2), the largest over the layers when a mixture gives them several types. {@code shared}: the width
     * of a mixture's shared expert, 0 for none.
     */
    public record Shape(int dim, int hidden, int heads, int kvHeads, int headDim, int vocab, int woBlock, int downBlock, int shared) {}

    /** Node i's share of one layer. */
    public record Slice(int node, int headFrom, int headTo, int kvHeadFrom, int kvHeadTo,
                        int hiddenFrom, int hiddenTo, int vocabFrom, int vocabTo) {
        public int heads() {
            return headTo - headFrom;
        }

        public int kvHeads() {
            return kvHeadTo - kvHeadFrom;
        }

        public int hidden() {
            return hiddenTo - hiddenFrom;
        }

        public int vocab() {
            return vocabTo - vocabFrom;
        }
    }

    /** The most a node's weight may be: enough for any mix of machines, small enough that sums stay exact. */
    public static final int MAX_SHARE = 1000;

    public SplitPlan {
        shares = List.copyOf(shares);
        if (nodes >= 1 && shares.size() != nodes) throw new IllegalArgumentException(shares.size() + " shares for " + nodes + " nodes");
        for (int w : shares) if (w < 1 || w > MAX_SHARE) throw new HerdException("a node's weight must be 1.." + MAX_SHARE + ", not " + w);
        if (equal(shares)) {
            String why = invalidReason(shape, nodes);
            if (why != null) {
                throw new HerdException("cannot split this model across " + nodes + " node" + (nodes == 1 ? "" : "s") + ": " + why
                        + "; valid node counts: " + validCounts(shape, 64));
            }
        } else {
            String why = unevenReason(shape, shares);
            if (why != null) throw new HerdException("cannot split this model by the weights " + shares + ": " + why);
        }
    }

    /** Equal slices for {@code nodes} nodes. */
    public SplitPlan(int nodes, Shape shape) {
        this(nodes, shape, Collections.nCopies(Math.max(nodes, 0), 1));
    }

    private static boolean equal(List<Integer> shares) {
        return shares.stream().distinct().count() <= 1;
    }

    public Slice slice(int node) {
        if (!equal(shares)) return weighted(shape, shares, node);
        int headsPer = shape.heads / nodes;
        int headFrom = node * headsPer, headTo = headFrom + headsPer;
        int group = shape.heads / shape.kvHeads;
        int kvFrom = headFrom / group, kvTo = (headTo - 1) / group + 1;
        int hiddenPer = shape.hidden / nodes;
        int vocabFrom = (int) ((long) shape.vocab * node / nodes), vocabTo = (int) ((long) shape.vocab * (node + 1) / nodes);
        return new Slice(node, headFrom, headTo, kvFrom, kvTo, node * hiddenPer, (node + 1) * hiddenPer, vocabFrom, vocabTo);
    }

    /** Node {@code node}'s slice under unequal weights: each range in proportion to the weights, in whole units. */
    private static Slice weighted(Shape s, List<Integer> shares, int node) {
        int group = s.heads / s.kvHeads, unit = hiddenUnit(s);
        int kvFrom = cut(s.kvHeads, shares, node), kvTo = cut(s.kvHeads, shares, node + 1);
        return new Slice(node, kvFrom * group, kvTo * group, kvFrom, kvTo, cut(s.hidden / unit, shares, node) * unit,
                cut(s.hidden / unit, shares, node + 1) * unit, cut(s.vocab, shares, node), cut(s.vocab, shares, node + 1));
    }

    /** Where node {@code node}'s range of {@code units} starts: the share of the nodes before it, rounded to the nearest unit. */
    private static int cut(int units, List<Integer> shares, int node) {
        long before = 0, total = 0;
        for (int i = 0; i < shares.size(); i++) {
            if (i < node) before += shares.get(i);
            total += shares.get(i);
        }
        return (int) ((2 * units * before + total) / (2 * total));
    }

    /**
     * The FFN rows an unequal split moves in whole units of: W2's block, and at least 32 where the FFN size allows (rows
     * in whole groups of the interleaved kernels). Root and workers agree on it: the plan message carries the block.
     */
    static int hiddenUnit(Shape s) {
        return s.downBlock < 32 && s.hidden % 32 == 0 ? 32 : s.downBlock;
    }

    /** Why unequal {@code shares} cannot split this shape, or null if they can. */
    static String unevenReason(Shape s, List<Integer> shares) {
        int nodes = shares.size();
        if (nodes > s.kvHeads) return "unequal weights need at most as many nodes as the model's " + s.kvHeads + " KV heads";
        int unit = hiddenUnit(s);
        if (s.hidden % unit != 0) return "the FFN size " + s.hidden + " is not in whole " + unit + "-value blocks";
        if (sharedReason(s) != null) return sharedReason(s);
        for (int node = 0; node < nodes; node++) {
            Slice slice = weighted(s, shares, node);
            if (slice.kvHeads() == 0 || slice.hidden() == 0 || slice.vocab() == 0) {
                return "node " + node + "'s weight " + shares.get(node) + " is too small to hold a whole KV head and " + unit + " FFN rows";
            }
            int woCols = slice.heads() * s.headDim;
            if (woCols % s.woBlock != 0) return "node " + node + "'s " + woCols + " attention-output columns would cut " + s.woBlock + "-value quantization blocks";
        }
        return null;
    }

    /**
     * One tensor of a node's share: the full tensor is rows x cols, or {@code experts} such matrices stacked (a
     * mixture's); the node holds [from, to) of the cut dimension of each.
     */
    public record Part(String name, Cut cut, int rows, int cols, int from, int to, int experts) {
        /** Rows of the node's part, all its stacked matrices together. */
        public int localRows() {
            return experts * (cut == Cut.ROWS ? to - from : rows);
        }

        public int localCols() {
            return cut == Cut.COLUMNS ? to - from : cols;
        }

        /** Bytes of the node's part in a tensor of this type. */
        public long bytes(GgmlType type) {
            return (long) localRows() * type.bytes(localCols());
        }
    }

    /**
     * The plan for a model whose column-split matrices have the given types, one per layer: a mixture (a llama.cpp
     * Q4_K_M file has Q4_K and Q6_K, or Q5_0 and Q4_K) is cut on the largest block of each matrix's types.
     */
    public static SplitPlan of(ModelConfig c, List<GgmlType> wo, List<GgmlType> down, List<Integer> shares) {
        return new SplitPlan(shares.size(), new Shape(c.dim(), c.hidden(), c.heads(), c.kvHeads(), c.headDim(), c.vocab(), largestBlock(wo), largestBlock(down), c.shared()), shares);
    }

    /** {@link #of(ModelConfig, List, List, List)} with equal slices. */
    public static SplitPlan of(ModelConfig c, List<GgmlType> wo, List<GgmlType> down, int nodes) {
        return of(c, wo, down, Collections.nCopies(nodes, 1));
    }

    private static int largestBlock(List<GgmlType> types) {
        return types.stream().mapToInt(t -> t.blockSize).max().orElse(1);
    }

    /** The plan for a model whose column slices must be multiples of {@code colBlock}. */
    public static SplitPlan of(ModelConfig c, int colBlock, int nodes) {
        return of(c, colBlock, colBlock, Collections.nCopies(nodes, 1));
    }

    /** The plan for a model whose Wo and W2 column slices must be multiples of {@code woBlock} and {@code downBlock}. */
    public static SplitPlan of(ModelConfig c, int woBlock, int downBlock, List<Integer> shares) {
        return new SplitPlan(shares.size(), new Shape(c.dim(), c.hidden(), c.heads(), c.kvHeads(), c.headDim(), c.vocab(), woBlock, downBlock, c.shared()), shares);
    }

    /**
     * Every tensor node {@code node} holds, in the order the root streams them, each cut as the table of tensors says
     * ({@link ModelTensor}: cut and axis). {@code ropeFreqs}: whether the model has the Llama 3.1 rope_freqs tensor.
     */
    public List<Part> parts(ModelConfig c, int node, boolean ropeFreqs) {
        Slice s = slice(node);
        return ModelTensor.specs(c, t -> held(t, c, ropeFreqs), Comparator.naturalOrder()).stream().map(t -> part(t, s, c)).toList();
    }

    /** The token embedding stays on the root; a tied output is sent as the embedding's rows; the rest as the model has them. */
    private static boolean held(ModelTensor t, ModelConfig c, boolean ropeFreqs) {
        return switch (t) {
            case TOKEN_EMBD -> false;
            case OUTPUT -> true;
            case ROPE_FREQS -> ropeFreqs;
            default -> t.in(c);
        };
    }

    /**
     * The node's part of a tensor: the node's range of the row's axis, on its rows or columns. A vector is one row,
     * so a vector cut by rows (a bias, following its matrix's rows) is cut along that row.
     */
    private static Part part(ModelTensor.Spec t, Slice s, ModelConfig c) {
        Cut cut = t.tensor().cut == Cut.ROWS && t.tensor().vector() ? Cut.COLUMNS : t.tensor().cut;
        int e = t.experts(), headDim = c.headDim();
        return switch (t.tensor().axis) {
            case HEADS -> new Part(t.name(), cut, t.rows(), t.cols(), s.headFrom * headDim, s.headTo * headDim, e);
            case KV_HEADS -> new Part(t.name(), cut, t.rows(), t.cols(), s.kvHeadFrom * headDim, s.kvHeadTo * headDim, e);
            case FFN -> new Part(t.name(), cut, t.rows(), t.cols(), s.hiddenFrom, s.hiddenTo, e); // each expert's slice
            case SHARED -> new Part(t.name(), cut, t.rows(), t.cols(), c.sharedRows(s.hiddenFrom), c.sharedRows(s.hiddenTo), e);
            case VOCAB -> new Part(t.name(), cut, t.rows(), t.cols(), s.vocabFrom, s.vocabTo, e);
            case ALL -> new Part(t.name(), Cut.WHOLE, t.rows(), t.cols(), 0, 1, e);
        };
    }

    /** The config a node computes with: its own heads, KV heads, FFN rows and vocabulary rows. */
    public ModelConfig local(ModelConfig c, int node) {
        Slice s = slice(node);
        return c.slice(s.heads(), s.kvHeads(), s.hidden(), s.vocab());
    }

    /** Why {@code nodes} cannot split this shape, or null if it can. */
    public static String invalidReason(Shape s, int nodes) {
        if (nodes < 1) return "the node count must be at least 1";
        if (s.heads % nodes != 0) return s.heads + " attention heads do not divide evenly into " + nodes;
        if (nodes <= s.kvHeads) {
            if (s.kvHeads % nodes != 0) return s.kvHeads + " KV heads do not divide evenly into " + nodes;
        } else if (nodes % s.kvHeads != 0) {
            return "with more nodes than the " + s.kvHeads + " KV heads, the node count must be a multiple of " + s.kvHeads;
        }
        int woCols = s.heads / nodes * s.headDim;
        if (woCols % s.woBlock != 0) {
            return "each node's " + woCols + " attention-output columns would cut " + s.woBlock + "-value quantization blocks";
        }
        if (s.hidden % nodes != 0) return "the FFN size " + s.hidden + " does not divide evenly into " + nodes;
        if (nodes > 1 && sharedReason(s) != null) return sharedReason(s);
        if (s.hidden / nodes % s.downBlock != 0) {
            return "each node's " + s.hidden / nodes + " FFN-down columns would cut " + s.downBlock + "-value quantization blocks";
        }
        if (s.vocab < nodes) return "the vocabulary is smaller than the node count";
        return null;
    }

    /** Why a split cannot give each node a shared expert's rows in its share of the experts' rows, or null if it can. */
    private static String sharedReason(Shape s) {
        return s.shared % s.hidden == 0 ? null : "the shared expert's width " + s.shared + " is not a whole multiple of the experts' " + s.hidden;
    }

    /** The node counts from 1 to {@code max} that can split this shape. */
    public static List<Integer> validCounts(Shape s, int max) {
        List<Integer> valid = new ArrayList<>();
        for (int n = 1; n <= max; n++) if (invalidReason(s, n) == null) valid.add(n);
        return valid;
    }
}
