package dev.herd.api;

import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.tokenizer.Tokenizer;
import dev.herd.tokenizer.Tokenizers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Mistral v3 vocabulary for stories15M: its Llama 2 tokenizer with ids 3 to 9 (bytes 0x00 to 0x06, which text never
 * holds) made the control tokens Mistral-7B-Instruct-v0.3 has at those ids. Written once per test run.
 */
final class MistralVocab {
    private static final String[] CONTROL = {"[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"};
    private static final int FIRST = 3, CONTROL_TYPE = 3;
    private static Path file;

    private MistralVocab() {}

    static synchronized Path path() {
        if (file != null) return file;
        try (GgufFile model = GgufFile.open(TestApi.FIXTURE)) {
            GgufWriter out = new GgufWriter().put("general.architecture", "llama");
            for (Map.Entry<String, Object> e : model.metadata().entrySet()) {
                if (!e.getKey().startsWith("tokenizer.")) continue;
                Object v = e.getValue();
                if (e.getKey().equals("tokenizer.ggml.tokens")) {
                    String[] tokens = ((String[]) v).clone();
                    System.arraycopy(CONTROL, 0, tokens, FIRST, CONTROL.length);
                    v = tokens;
                } else if (e.getKey().equals("tokenizer.ggml.token_type")) {
                    int[] types = ((int[]) v).clone();
                    for (int i = 0; i < CONTROL.length; i++) types[FIRST + i] = CONTROL_TYPE;
                    v = types;
                }
                out.put(e.getKey(), v);
            }
            Path p = Files.createTempFile("mistral-v3-vocab", ".gguf");
            p.toFile().deleteOnExit();
            out.write(p);
            return file = p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Tokenizer tokenizer() {
        return Tokenizers.fromFile(path());
    }

    /** The fixture's own Llama 2 vocabulary, which has [INST] only as text. */
    static Tokenizer llama2() {
        try (GgufFile model = GgufFile.open(TestApi.FIXTURE)) {
            return Tokenizers.fromGguf(model);
        }
    }
}
