package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** The registry of weight types Herd reads: adding a type is one {@link Codec} class and one line here. */
public final class Codecs {
    private Codecs() {}

    /** In the order messages list them. */
    private static final Map<GgmlType, Codec> BY_TYPE = new LinkedHashMap<>();
    static {
        for (Codec c : List.of(
                new F32(), new F16(), new Bf16(),
                new Q8_0(), new Q4_0(), new Q4_1(), new Q5_0(), new Q5_1(),
                new Q2_K(), new Q3_K(), new Q4_K(), new Q5_K(), new Q6_K(),
                new Iq4Nl(), new Iq4Xs())) {
            BY_TYPE.put(c.type(), c);
        }
    }

    /** Whether Herd reads tensors of this type. */
    public static boolean reads(GgmlType type) {
        return type != null && BY_TYPE.containsKey(type);
    }

    /** The codec of a type Herd reads. */
    public static Codec of(GgmlType type) {
        Codec c = type == null ? null : BY_TYPE.get(type);
        if (c == null) throw new IllegalArgumentException("no codec for " + type);
        return c;
    }

    /** The types Herd reads, for messages: "F32, F16, ...". */
    public static String names() {
        return BY_TYPE.keySet().stream().map(GgmlType::name).collect(Collectors.joining(", "));
    }
}
