package dev.herd.cluster;

import dev.herd.codec.Codecs;
import dev.herd.engine.ContextLength;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;

import java.security.MessageDigest;
import java.util.List;

/**
 * What the root tells a worker before streaming its weights: the whole model's config, the worker's place in the
 * split, the KV cache length (of every slot: up to {@link ContextLength#MAX_SLOTS} contexts) and the types of the
 * tensors it will receive. The worker recomputes its slice from this, every node's weight ({@code shares}) and W2's
 * block (which round an unequal split, see {@link SplitPlan}) (rather than trusting sizes sent to it) and checks every
 * field against hard bounds before allocating.
 * With {@code mesh}, the nodes all-reduce directly with each other: {@code workers} are the addresses of nodes
 * 1..N-1 as the root reached them, and {@code token} identifies the session on the links between workers.
 */
record PlanMessage(ModelConfig config, int node, int nodes, List<Integer> shares, int downBlock, int maxSeqLen, SyncCodec codec, GgmlType embedding,
                   boolean ropeFreqs, List<GgmlType> types, boolean kvOnDisk, boolean mesh, List<String> workers, byte[] token) {

    static final int MAX_DIM = 1 << 16, MAX_HIDDEN = 1 << 18, MAX_LAYERS = 1024, MAX_HEADS = 1024, MAX_HEAD_DIM = 1024,
            MAX_VOCAB = 1 << 21, MAX_SEQ = 1 << 20;

    Message encode() {
        ModelConfig c = config;
        Message.Builder b = new Message.Builder(Message.PLAN).string(c.arch().gguf).i32(c.dim()).i32(c.hidden()).i32(c.layers())
                .i32(c.heads()).i32(c.kvHeads()).i32(c.headDim()).i32(c.vocab()).i32(c.contextLength()).f32(c.eps())
                .f32(c.ropeTheta()).i32(c.ropeDim()).i32(c.tied() ? 1 : 0);
        ModelConfig.RopeScaling s = c.scaling();
        b.i32(s == null ? 0 : 1);
        if (s != null) b.f32(s.factor()).f32(s.lowFreqFactor()).f32(s.highFreqFactor()).i32(s.originalContext());
        ModelConfig.Moe moe = c.moe();
        b.i32(moe == null ? 0 : moe.experts());
        if (moe != null) b.i32(moe.used()).i32(moe.normalized() ? 1 : 0).i32(moe.shared());
        b.i32(node).i32(nodes);
        for (int share : shares) b.i32(share);
        b.i32(downBlock).i32(maxSeqLen).i32(codec.ordinal()).i32(embedding.id).i32(ropeFreqs ? 1 : 0).i32(kvOnDisk ? 1 : 0)
                .i32(mesh ? 1 : 0);
        b.i32(types.size());
        for (GgmlType t : types) b.i32(t.id);
        b.bytes(token).i32(workers.size());
        for (String w : workers) b.string(w);
        return b.build();
    }

    /**
     * Names a worker's cached slices of this plan: a SHA-256 of the protocol (which fixes the table's order), the
     * model's tensor table ({@code fingerprint}, from HELLO), its shape, the node, the node count, the nodes' weights
     * and W2's block (which decide the ranges) and the slices' types. Their contents are compared by hash with the root's file before any is reused.
     */
    byte[] sliceKey(byte[] fingerprint) {
        ModelConfig c = config;
        Message.Builder b = new Message.Builder(Message.PLAN).i32(Handshake.PROTOCOL).bytes(fingerprint).string(c.arch().gguf)
                .i32(c.dim()).i32(c.hidden()).i32(c.shared()).i32(c.layers()).i32(c.heads()).i32(c.kvHeads()).i32(c.headDim()).i32(c.vocab())
                .i32(node).i32(nodes).i32(ropeFreqs ? 1 : 0);
        for (int share : shares) b.i32(share);
        b.i32(downBlock).i32(types.size());
        for (GgmlType t : types) b.i32(t.id);
        Message m = b.build();
        MessageDigest d = SliceCache.sha256();
        d.update(m.payload(), 0, m.length());
        return d.digest();
    }

    static PlanMessage decode(Message m) {
        Message.Reader r = m.reader();
        Arch arch = Arch.ofGguf(r.string());
        if (arch == null) throw bad("architecture");
        int dim = bound(r.i32(), MAX_DIM, "dim"), hidden = bound(r.i32(), MAX_HIDDEN, "hidden"),
                layers = bound(r.i32(), MAX_LAYERS, "layers"), heads = bound(r.i32(), MAX_HEADS, "heads"),
                kvHeads = bound(r.i32(), heads, "kv heads"), headDim = bound(r.i32(), MAX_HEAD_DIM, "head dim"),
                vocab = bound(r.i32(), MAX_VOCAB, "vocab"), context = bound(r.i32(), MAX_SEQ, "context");
        float eps = r.f32(), theta = r.f32();
        int ropeDim = bound(r.i32(), headDim, "rope dim");
        boolean tied = r.i32() == 1;
        ModelConfig.RopeScaling scaling = r.i32() == 1 ? new ModelConfig.RopeScaling(r.f32(), r.f32(), r.f32(), bound(r.i32(), MAX_SEQ, "original context")) : null;
        int experts = r.i32();
        ModelConfig.Moe moe = null;
        if (experts != 0) {
            int used = r.i32();
            if (ModelConfig.Moe.invalidReason(experts, used) != null) throw bad("expert counts " + experts + ", " + used);
            boolean normalized = r.i32() == 1;
            int shared = r.i32();
            if (shared != 0) bound(shared, MAX_HIDDEN, "shared expert width");
            moe = new ModelConfig.Moe(experts, used, normalized, shared);
        }
        if (heads % kvHeads != 0 || !(eps > 0) || !(theta > 0) || ropeDim % 2 != 0 || moe == null && arch.moe) throw bad("model shape");
        ModelConfig c = new ModelConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, context, eps, theta,
                ropeDim, scaling, tied, moe);
        int node = r.i32(), nodes = bound(r.i32(), 1024, "node count");
        Integer[] shares = new Integer[nodes];
        for (int i = 0; i < nodes; i++) shares[i] = bound(r.i32(), SplitPlan.MAX_SHARE, "node weight");
        int downBlock = bound(r.i32(), 256, "FFN-down block"), seq = bound(r.i32(), context * ContextLength.MAX_SLOTS, "max seq len");
        int codec = r.i32();
        if (node < 1 || node >= nodes || codec < 0 || codec > 1) throw bad("node index or sync type");
        GgmlType embedding = type(r.i32());
        boolean ropeFreqs = r.i32() == 1, kvOnDisk = r.i32() == 1, mesh = r.i32() == 1;
        int n = bound(r.i32(), MAX_LAYERS * 16 + 8, "tensor count");
        GgmlType[] types = new GgmlType[n];
        for (int i = 0; i < n; i++) types[i] = type(r.i32());
        byte[] token = r.bytes(Handshake.NONCE);
        if (token.length != Handshake.NONCE) throw bad("session token");
        if (r.i32() != nodes - 1) throw bad("worker list");
        String[] workers = new String[nodes - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = r.string();
            if (workers[i].length() > 300) throw bad("worker address");
        }
        return new PlanMessage(c, node, nodes, List.of(shares), downBlock, seq, SyncCodec.values()[codec], embedding, ropeFreqs, List.of(types), kvOnDisk,
                mesh, List.of(workers), token);
    }

    private static GgmlType type(int id) {
        GgmlType t = GgmlType.byId(id);
        if (!Codecs.reads(t)) throw bad("tensor type id " + id);
        return t;
    }

    private static int bound(int v, int max, String what) {
        if (v < 1 || v > max) throw bad(what + " " + v + " (allowed 1.." + max + ")");
        return v;
    }

    private static Wire.ProtocolException bad(String what) {
        return new Wire.ProtocolException("the root's plan has an invalid " + what);
    }
}
