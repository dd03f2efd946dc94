package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
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
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static dev.herd.model.ModelTensor.*;

/**
 * A llama2.c fp32 checkpoint (.bin): a header of seven int32 (dim, hidden, layers, heads, kvHeads, vocab, seqLen;
 * a negative vocab means the classifier is stored separately) followed by fp32 arrays in llama2.c order.
 * Converts to an F32 GGUF with llama names ({@link ModelTensor}). llama2.c already uses the interleaved RoPE layout that GGUF llama
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
        long need = HEADER_BYTES + 4 * layout(h).floats();
        if (file.byteSize() < need) {
            throw new HerdException(path + ": truncated llama2.c checkpoint (" + file.byteSize() + " bytes, header needs " + need + ")");
        }
        return h;
    }

    /** llama2.c's arrays in file order, each holding that tensor of every layer. */
    private static final List<ModelTensor> ORDER = List.of(TOKEN_EMBD, ATTN_NORM, ATTN_Q, ATTN_K, ATTN_V, ATTN_OUTPUT,
            FFN_NORM, FFN_GATE, FFN_DOWN, FFN_UP, OUTPUT_NORM, OUTPUT);

    private static ModelConfig config(Header h) {
        return new ModelConfig(Arch.LLAMA, h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.headDim(), h.vocab, h.seqLen,
                1e-5f, 10000, null, h.tied);
    }

    /** Where each array starts and how many floats the file holds after the header. */
    private record Layout(Map<ModelTensor, Long> offsets, long floats) {}

    /** The legacy freq_cis arrays (real and imaginary halves) lie before the classifier, which a tied checkpoint lacks. */
    private static Layout layout(Header h) {
        ModelConfig c = config(h);
        Map<ModelTensor, Long> at = new EnumMap<>(ModelTensor.class);
        long next = 0;
        for (ModelTensor t : ORDER) {
            if (t == OUTPUT) next += (long) h.seqLen * h.headDim();
            at.put(t, next);
            if (t != OUTPUT || !h.tied) next += (t.perLayer ? h.layers : 1) * (long) t.rows(c) * t.cols(c);
        }
        return new Layout(at, next);
    }

    private static GgufWriter writer(Header h, MemorySegment file) {
        ModelConfig c = config(h);
        GgufWriter w = new GgufWriter();
        GgufConfig.metadata(c).forEach(w::put);
        w.put("general.name", "llama2.c checkpoint");
        Map<ModelTensor, Long> at = layout(h).offsets();
        for (ModelTensor.Spec s : c.tensors()) {
            w.tensor(s.name(), GgmlType.F32, s.dims(), copy(file, at.get(s.tensor()) + Math.max(s.layer(), 0) * s.elements(), s.elements()));
        }
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
