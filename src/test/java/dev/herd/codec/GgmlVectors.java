package dev.herd.codec;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

/** The committed vectors of ggml's own codecs (src/test/resources/ggml, README there): a type's blocks and their decoded floats. */
public final class GgmlVectors {
    private GgmlVectors() {}

    /** The raw blocks of {@code type} (its lower-case name, e.g. "q4_k"). */
    public static byte[] blocks(String type) throws IOException {
        return resource(type + ".bin");
    }

    /** What ggml's dequantizer made of them. */
    public static float[] decoded(String type) throws IOException {
        return floats(type + ".f32");
    }

    /** A committed file of raw little-endian floats. */
    public static float[] floats(String name) throws IOException {
        byte[] bytes = resource(name);
        float[] f = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    public static byte[] resource(String name) throws IOException {
        try (InputStream in = GgmlVectors.class.getResourceAsStream("/ggml/" + name)) {
            assertThat(in).as(name).isNotNull();
            return in.readAllBytes();
        }
    }
}
