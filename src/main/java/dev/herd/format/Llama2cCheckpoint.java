package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * A llama2.c fp32 checkpoint (.bin): a header of seven int32 (dim, hidden, layers, heads, kvHeads, vocab, seqLen;
 * a negative vocab means the classifier is stored separately) followed by fp32 arrays in llama2.c order.
 * Converts to an F32 GGUF with llama names. llama2.c already uses the interleaved RoPE layout that GGUF llama
 * files use, so Q and K rows are copied unchanged.
 */
public final class Llama2cCheckpoint {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int HEADER_BYTES = 7 * 4;

    public record Header(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, boolean tied, int seqLen) {
        public int headDim() {
            return dim / heads;
        }

        public int kvDim() {
            return kvHeads * headDim();
        }
    }

    private Llama2cCheckpoint() {}

    /** Reads {@code in} and writes an F32 GGUF to {@code out}; {@code extra} metadata (e.g. a tokenizer) is added. */
    public static Header convert(Path in, Path out, Map<String, Object> extra) {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            Header h = header(in, file);
            GgufWriter w = writer(h, file);
            extra.forEach(w::put);
            w.write(out);
            return h;
        } catch (NoSuchFileException e) {
            throw new HerdException(in + ": no such file");
        } catch (IOException e) {
            throw new HerdException(in + " -> " + out + ": " + e.getMessage(), e);
        }
    }

    static Header header(Path path, MemorySegment file) {
        if (file.byteSize() < HEADER_BYTES) {
            throw new HerdException(path + ": too short for a llama2.c checkpoint (" + file.byteSize() + " bytes)");
        }
        int[] v = new int[7];
        for (int i = 0; i < 7; i++) v[i] = file.get(I32, 4L * i);
        Header h = new Header(v[0], v[1], v[2], v[3], v[4], Math.abs(v[5]), v[5] > 0, v[6]);
        String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
        for (int i = 0; i < 7; i++) {
            if (v[i] == 0 || (v[i] < 0 && i != 5) || Math.abs((long) v[i]) > 1 << 24) {
                throw new HerdException(path + ": not a llama2.c checkpoint (header " + names[i] + " = " + v[i] + ")");
            }
        }
        if (h.dim % h.heads != 0 || h.heads % h.kvHeads != 0) {
            throw new HerdException(path + ": not a llama2.c checkpoint (dim " + h.dim + ", heads " + h.heads
                    + ", kv heads " + h.kvHeads + " do not divide)");
        }
        long need = HEADER_BYTES + 4 * floats(h);
        if (file.byteSize() < need) {
            throw new HerdException(path + ": truncated llama2.c checkpoint (" + file.byteSize() + " bytes, header needs " + need + ")");
        }
        return h;
    }

    /** Number of floats after the header, including the legacy freq_cis arrays. */
    private static long floats(Header h) {
        long d = h.dim, l = h.layers, kv = h.kvDim();
        long perLayer = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * h.hidden;
        long freqCis = (long) h.seqLen * h.headDim(); // real and imaginary halves
        return h.vocab * d + l * perLayer + d + freqCis + (h.tied ? 0 : h.vocab * d);
    }

    private static GgufWriter writer(Header h, MemorySegment file) {
        long d = h.dim, kv = h.kvDim(), f = h.hidden, l = h.layers;
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("general.name", "llama2.c checkpoint")
                .put("llama.context_length", h.seqLen)
                .put("llama.embedding_length", h.dim)
                .put("llama.block_count", h.layers)
                .put("llama.feed_forward_length", h.hidden)
                .put("llama.attention.head_count", h.heads)
                .put("llama.attention.head_count_kv", h.kvHeads)
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.rope.freq_base", 10000f)
                .put("llama.rope.dimension_count", h.headDim())
                .put("llama.vocab_size", h.vocab);
        // Offsets (in floats) of each llama2.c array, in file order.
        long embd = 0, attnNorm = embd + h.vocab * d, q = attnNorm + l * d, k = q + l * d * d, v = k + l * d * kv;
        long o = v + l * d * kv, ffnNorm = o + l * d * d, gate = ffnNorm + l * d, down = gate + l * f * d;
        long up = down + l * d * f, outNorm = up + l * f * d, cls = outNorm + d + (long) h.seqLen * h.headDim();
        w.tensor("token_embd.weight", GgmlType.F32, new long[]{d, h.vocab}, copy(file, embd, h.vocab * d));
        for (int i = 0; i < l; i++) {
            String b = "blk." + i + ".";
            w.tensor(b + "attn_norm.weight", GgmlType.F32, new long[]{d}, copy(file, attnNorm + i * d, d));
            w.tensor(b + "attn_q.weight", GgmlType.F32, new long[]{d, d}, copy(file, q + i * d * d, d * d));
            w.tensor(b + "attn_k.weight", GgmlType.F32, new long[]{d, kv}, copy(file, k + i * d * kv, d * kv));
            w.tensor(b + "attn_v.weight", GgmlType.F32, new long[]{d, kv}, copy(file, v + i * d * kv, d * kv));
            w.tensor(b + "attn_output.weight", GgmlType.F32, new long[]{d, d}, copy(file, o + i * d * d, d * d));
            w.tensor(b + "ffn_norm.weight", GgmlType.F32, new long[]{d}, copy(file, ffnNorm + i * d, d));
            w.tensor(b + "ffn_gate.weight", GgmlType.F32, new long[]{d, f}, copy(file, gate + i * f * d, f * d));
            w.tensor(b + "ffn_down.weight", GgmlType.F32, new long[]{f, d}, copy(file, down + i * d * f, d * f));
            w.tensor(b + "ffn_up.weight", GgmlType.F32, new long[]{d, f}, copy(file, up + i * f * d, f * d));
        }
        w.tensor("output_norm.weight", GgmlType.F32, new long[]{d}, copy(file, outNorm, d));
        if (!h.tied) w.tensor("output.weight", GgmlType.F32, new long[]{d, h.vocab}, copy(file, cls, h.vocab * d));
        return w;
    }

    /** Streams {@code count} floats starting at float {@code from} of the data (after the header). */
    private static GgufWriter.TensorSource copy(MemorySegment file, long from, long count) {
        return (OutputStream out) -> {
            byte[] buf = new byte[1 << 16];
            long at = HEADER_BYTES + 4 * from, end = at + 4 * count;
            while (at < end) {
                int n = (int) Math.min(buf.length, end - at);
                MemorySegment.copy(file, ValueLayout.JAVA_BYTE, at, buf, 0, n);
                out.write(buf, 0, n);
                at += n;
            }
        };
    }
}
