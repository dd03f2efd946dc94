package dev.herd.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Tokenizer fixtures under src/test/resources/tokenizer, each tokenizer built once per test run. */
final class Resources {
    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();

    private Resources() {}

    static Path path(String name) {
        try {
            return Path.of(Resources.class.getResource("/tokenizer/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource tokenizer/" + name, e);
        }
    }

    static Tokenizer tokenizer(String name) {
        return TOKENIZERS.computeIfAbsent(name, n -> Tokenizers.fromFile(path(n)));
    }

    static Tokenizer spm() {
        return tokenizer("ggml-vocab-llama-spm.gguf");
    }

    static Tokenizer bpe() {
        return tokenizer("ggml-vocab-llama-bpe.gguf");
    }

    /** One llama.cpp test vector: input text and expected ids. */
    record Vector(int index, String text, int[] ids) {
        @Override
        public String toString() {
            return "#" + index + " " + text.replace("\n", "\\n").replace("\t", "\\t");
        }
    }

    /**
     * llama.cpp's test-tokenizer-0 format: the .inp holds inputs each followed by "\n__ggml_vocab_test__\n", the .out
     * one line of space-separated ids per input.
     */
    static List<Vector> vectors(String vocab) {
        try {
            String inp = Files.readString(path(vocab + ".inp"));
            List<String> out = Files.readAllLines(path(vocab + ".out"));
            String sep = "\n__ggml_vocab_test__\n";
            List<Vector> vectors = new ArrayList<>();
            for (int pos = 0, end; (end = inp.indexOf(sep, pos)) >= 0; pos = end + sep.length()) {
                String line = out.get(vectors.size()).strip();
                int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
                vectors.add(new Vector(vectors.size(), inp.substring(pos, end), ids));
            }
            if (vectors.size() != out.size()) throw new IllegalStateException(vocab + ": " + vectors.size() + " inputs, " + out.size() + " outputs");
            return vectors;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
