package dev.herd.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.grammar.Grammar;
import dev.herd.grammar.TokenMask;
import dev.herd.tokenizer.Tokenizer;
import dev.herd.tokenizer.Tokenizers;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The per-step cost of a JSON-schema token mask over a vocabulary (default: Llama 3's 128,256 tokens, from the test
 * resources). {@code fresh}: a new mask walked to the state and computed there (a cache miss: the whole trie walk);
 * {@code cached}: the same state again (inside a string the state repeats), which only applies the cached bits.
 * States: {@code start} before the value, {@code key} after an object's opening quote of a key,
 * {@code string} inside a free string, {@code number} inside a number.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GrammarBench {
    @Param({"src/test/resources/tokenizer/ggml-vocab-llama-bpe.gguf"})
    public String vocab;

    @Param({"start", "key", "string", "number"})
    public String at;

    private static final String SCHEMA = """
            {"type": "object", "additionalProperties": false, "required": ["name", "age"],
             "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}""";

    private Tokenizer tokenizer;
    private Grammar grammar;
    private int[] prefix;
    private float[] logits;
    private TokenMask warm;

    @Setup
    public void setup() throws Exception {
        tokenizer = Tokenizers.fromFile(Path.of(vocab));
        grammar = Grammar.schema(new ObjectMapper().readTree(SCHEMA));
        String text = switch (at) {
            case "start" -> "";
            case "key" -> "{\"";
            case "string" -> "{\"name\": \"Ada said \\\"hi";
            case "number" -> "{\"name\": \"Ada\", \"age\": 4";
            default -> throw new IllegalArgumentException(at);
        };
        prefix = tokenizer.encode(text);
        logits = new float[tokenizer.vocabSize()];
        warm = stepped();
        warm.mask(logits);
    }

    private TokenMask stepped() {
        TokenMask m = grammar.mask(tokenizer);
        for (int id : prefix) m.accept(id);
        return m;
    }

    @Benchmark
    public float[] fresh() {
        stepped().mask(logits);
        return logits;
    }

    @Benchmark
    public float[] cached() {
        warm.mask(logits);
        return logits;
    }
}
