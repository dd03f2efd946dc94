package dev.herd.tokenizer;

import dev.herd.HerdException;
import dev.herd.format.FileText;
import dev.herd.format.GgufFile;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/** Builds the tokenizer a GGUF or a tokenizer file describes. */
public final class Tokenizers {
    /** Pre-tokenizer names llama.cpp gives the Llama 3 regex. */
    private static final Set<String> LLAMA3_PRE = Set.of("llama-bpe", "llama3", "smaug-bpe");

    private Tokenizers() {}

    public static Tokenizer fromGguf(GgufFile gguf) {
        return fromMetadata(gguf.metadata(), gguf.path().toString());
    }

    /** A tokenizer.model, a tokenizer.json (with tokenizer_config.json beside it) or a GGUF, told apart by content. */
    public static Tokenizer fromFile(Path file) {
        if (GgufFile.isGguf(file)) {
            try (GgufFile gguf = GgufFile.open(file)) {
                return fromGguf(gguf);
            }
        }
        return fromMetadata(TokenizerMetadata.read(file), file.toString());
    }

    /** From GGUF-style tokenizer metadata (tokenizer.ggml.*); source names the origin in errors. */
    public static Tokenizer fromMetadata(Map<String, Object> meta, String source) {
        String model = get(meta, "tokenizer.ggml.model", String.class, source);
        String[] tokens = get(meta, "tokenizer.ggml.tokens", String[].class, source);
        int[] types = meta.get("tokenizer.ggml.token_type") instanceof int[] t ? t : filled(tokens.length, Vocabulary.NORMAL);
        float[] scores = meta.get("tokenizer.ggml.scores") instanceof float[] s ? s : new float[tokens.length]; // optional in llama.cpp
        if (types.length != tokens.length || scores.length != tokens.length) {
            throw new HerdException(source + ": tokenizer has " + tokens.length + " tokens but " + types.length + " token_type and "
                    + scores.length + " scores entries");
        }
        return switch (model) {
            case "llama" -> new SpmTokenizer(
                    Vocabulary.of(tokens, types, id(meta, "tokenizer.ggml.bos_token_id", 1, tokens.length, source), id(meta, "tokenizer.ggml.eos_token_id", 2, tokens.length, source),
                            flag(meta, "tokenizer.ggml.add_bos_token", true)),
                    scores,
                    flag(meta, "tokenizer.ggml.add_space_prefix", true));
            case "gpt2" -> {
                String pre = meta.get("tokenizer.ggml.pre") instanceof String s ? s : "default";
                if (!LLAMA3_PRE.contains(pre)) {
                    throw new HerdException(source + ": BPE pre-tokenizer " + FileText.quote(pre) + " is not supported (supported: " + LLAMA3_PRE + ")");
                }
                yield new BpeTokenizer(
                        Vocabulary.of(tokens, types, id(meta, "tokenizer.ggml.bos_token_id", -1, tokens.length, source), id(meta, "tokenizer.ggml.eos_token_id", -1, tokens.length, source),
                                flag(meta, "tokenizer.ggml.add_bos_token", true)), // llama.cpp adds BOS for Llama 3
                        get(meta, "tokenizer.ggml.merges", String[].class, source));
            }
            default -> throw new HerdException(source + ": tokenizer model " + FileText.quote(model) + " is not supported (supported: llama, gpt2)");
        };
    }

    private static <T> T get(Map<String, Object> meta, String key, Class<T> type, String source) {
        Object v = meta.get(key);
        if (!type.isInstance(v)) {
            throw new HerdException(source + ": tokenizer metadata '" + key + "' is " + (v == null ? "missing" : "not " + type.getSimpleName()));
        }
        return type.cast(v);
    }

    /** A token id from the metadata: -1 (none) or one of the vocabulary's ids. */
    private static int id(Map<String, Object> meta, String key, int fallback, int vocab, String source) {
        if (!(meta.get(key) instanceof Number n)) return fallback < vocab ? fallback : -1;
        long id = n.longValue();
        if (id < -1 || id >= vocab) throw new HerdException(source + ": tokenizer metadata '" + key + "' = " + id + " is not a token id (vocabulary of " + vocab + ")");
        return (int) id;
    }

    private static boolean flag(Map<String, Object> meta, String key, boolean fallback) {
        return meta.get(key) instanceof Boolean b ? b : fallback;
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }
}
