package dev.herd.convert;

import dev.herd.codec.Codecs;
import dev.herd.format.GgufFile;
import dev.herd.tensor.GgmlType;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Compares a GGUF tensor with the values it was made from, within the error its type allows. */
final class Close {
    private Close() {}

    static float[] decode(GgufFile f, String name) {
        GgufFile.TensorInfo info = f.tensors().get(name);
        float[] v = new float[(int) info.elements()];
        Codecs.of(info.type()).decode(f.bytes(name), 0, v, 0, v.length);
        return v;
    }

    static void check(GgufFile f, String name, float[] expected) {
        GgmlType type = f.tensors().get(name).type();
        float[] actual = decode(f, name);
        assertThat(actual).as(name).hasSize(expected.length);
        for (int b = 0; b < expected.length; b += 32) {
            float amax = 0;
            for (int j = b; j < Math.min(b + 32, expected.length); j++) amax = Math.max(amax, Math.abs(expected[j]));
            for (int j = b; j < Math.min(b + 32, expected.length); j++) {
                double bound = switch (type) {
                    case F32 -> 0;
                    case F16 -> Math.abs(expected[j]) / 2048 + 6e-8;
                    case BF16 -> Math.abs(expected[j]) / 256;
                    case Q8_0 -> amax / 127 * 0.5 + amax / 1024;
                    default -> amax / 8 * 1.001;
                };
                if (Math.abs(actual[j] - expected[j]) > bound) {
                    assertThat((double) actual[j]).as("%s (%s) element %d", name, type, j).isCloseTo(expected[j], within(bound));
                }
            }
        }
    }
}
