package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.codec.Codecs;
import dev.herd.format.Quantizer;
import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** How activation vectors travel between nodes: Q8_0 blocks (34 bytes per 32 values) or plain F32. */
public enum SyncCodec {
    F32(GgmlType.F32), Q80(GgmlType.Q8_0);

    final GgmlType type;

    SyncCodec(GgmlType type) {
        this.type = type;
    }

    public static SyncCodec of(String flag) {
        return switch (flag) {
            case "q80" -> Q80;
            case "f32" -> F32;
            default -> throw new HerdException("--buffer-float-type must be q80 or f32, got '" + flag + "'");
        };
    }

    int bytes(int values) {
        return (int) type.bytes(values);
    }

    /** Encodes v[0 .. n) into {@code out}. */
    void encode(float[] v, int n, byte[] out) {
        Quantizer.encode(type, v, 0, n, out, 0);
    }

    /** Decodes {@code n} values from {@code in} into {@code v}, adding them to what is there if {@code add}. */
    void decode(byte[] in, int n, float[] v, float[] scratch, boolean add) {
        MemorySegment src = MemorySegment.ofArray(in);
        if (!add) {
            Codecs.of(type).decode(src, 0, v, 0, n);
            return;
        }
        Codecs.of(type).decode(src, 0, scratch, 0, n);
        for (int i = 0; i < n; i++) v[i] += scratch[i];
    }
}
