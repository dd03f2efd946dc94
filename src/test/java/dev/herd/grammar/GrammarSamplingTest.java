package dev.herd.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.Stories15M;
import dev.herd.engine.Sampler;
import dev.herd.tokenizer.Tokenizer;
import dev.herd.tokenizer.Tokenizers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * 1,000 outputs per schema drawn with random logits over the real stories15M vocabulary (32,000 tokens, byte tokens
 * included) through the Sampler's constraint hook: every one must end, decode as strict UTF-8, parse with Jackson
 * (no trailing text, no duplicate key) and validate. The logits are Gaussian noise that favours tokens closing strings
 * and containers by a random amount per output (else a random walk writes strings of hundreds of tokens), and
 * backslashes, so that escapes occur. Most outputs take the argmax of the noise (a random draw, and cheap); the first
 * ones draw at temperature 1 with top-k and top-p, and check each step's mask against feeding every token's bytes to
 * the parser alone.
 */
class GrammarSamplingTest {
    private static final int OUTPUTS = 1000, MAX_TOKENS = 3000, CHECKED = 5, NUCLEUS = 50;
    private static Tokenizer tokenizer;
    private static boolean[] favoured;
    private static byte[][] texts;
    private static final float[] NOISE = new float[1 << 20];

    @BeforeAll
    static void vocabulary() {
        tokenizer = Tokenizers.fromFile(Stories15M.q8());
        favoured = new boolean[tokenizer.vocabSize()];
        texts = new byte[favoured.length][];
        for (int id = 0; id < favoured.length; id++) {
            texts[id] = tokenizer.bytes(id);
            for (byte b : texts[id]) favoured[id] |= b == '"' || b == '}' || b == ']' || b == '\\';
        }
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < NOISE.length; i++) NOISE[i] = (float) (2 * random.nextGaussian());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            // nested objects, required fields, no other keys
            """
            {"type": "object", "additionalProperties": false, "required": ["name", "address"],
             "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "score": {"type": "number"},
               "address": {"type": "object", "additionalProperties": false, "required": ["street"],
                 "properties": {"street": {"type": "string"}, "zip": {"type": "string"},
                   "geo": {"type": "object", "additionalProperties": false, "required": ["lat", "lon"],
                     "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}}}}}""",
            // arrays, bounded and nested
            """
            {"type": "object", "additionalProperties": false, "required": ["tags", "matrix"],
             "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
               "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}},
               "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 2}}}""",
            // enums, const and unions
            """
            {"type": "object", "additionalProperties": false, "required": ["color", "size", "kind"],
             "properties": {"color": {"enum": ["red", "green", "blue \\"quoted\\"\\n", "é"]},
               "size": {"enum": [1, 12, 1.5, null, true]}, "kind": {"const": "fixed"},
               "note": {"type": ["string", "null"]}, "when": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
               "shapes": {"type": "array", "items": {"enum": [{"a": 1}, [1, 2], "x"]}}}}""",
            // free strings (escapes)
            """
            {"type": "object", "required": ["text"], "additionalProperties": false,
             "properties": {"text": {"type": "string"}, "more": {"type": "array", "items": {"type": "string"}}}}""",
            // response_format json_object: keys and values of any type
            "json_object"})
    void everySampledOutputParsesAndValidates(String schemaText) throws Exception {
        boolean object = schemaText.equals("json_object");
        JsonNode schema = object ? SchemaCheck.json("{\"type\": \"object\"}") : SchemaCheck.json(schemaText);
        Grammar grammar = object ? Grammar.jsonObject() : Grammar.schema(schema);
        SplittableRandom random = new SplittableRandom(14);
        float[] logits = new float[tokenizer.vocabSize()];
        int escapes = 0;
        for (int n = 0; n < OUTPUTS; n++) {
            TokenMask mask = grammar.mask(tokenizer);
            Sampler sampler = (n < NUCLEUS ? new Sampler(logits.length, 1, 40, 0.95f, random.nextLong()) : Sampler.greedy(logits.length)).constrain(mask);
            double bonus = 3 + 5 * random.nextDouble();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int steps = 0;
            while (true) {
                if (++steps > MAX_TOKENS) fail("no end after " + MAX_TOKENS + " tokens: " + out.toString(StandardCharsets.UTF_8).substring(0, 200));
                int from = random.nextInt(NOISE.length - logits.length);
                for (int i = 0; i < logits.length; i++) logits[i] = NOISE[from + i] + (favoured[i] ? (float) bonus : 0);
                if (n < CHECKED) assertMaskIsExact(mask, out.toByteArray(), grammar);
                int token = sampler.sample(logits);
                if (tokenizer.isEos(token)) break;
                out.writeBytes(texts[token]);
            }
            String text = strictUtf8(out.toByteArray());
            JsonNode value = SchemaCheck.json(text);
            assertThat(SchemaCheck.errors(schema, value)).as(text).isEmpty();
            if (text.contains("\\")) escapes++;
        }
        assertThat(escapes).as("outputs with escapes").isGreaterThan(OUTPUTS / 20);
    }

    /** The trie walk allows exactly the tokens whose bytes, fed one by one to the parser, keep the output valid. */
    private static void assertMaskIsExact(TokenMask mask, byte[] sofar, Grammar grammar) {
        long[] allowed = mask.allowed();
        State state = grammar.start().advance(sofar);
        boolean any = false;
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            boolean ok = tokenizer.isEos(id) ? state.complete() : texts[id].length > 0 && state.advance(texts[id]) != null;
            any |= ok;
            if (((allowed[id >>> 6] & 1L << id) != 0) != ok) {
                fail("token " + id + " " + tokenizer.piece(id) + " is " + (ok ? "not " : "") + "allowed after " + new String(sofar, StandardCharsets.UTF_8));
            }
        }
        assertThat(any).as("some token continues " + new String(sofar, StandardCharsets.UTF_8)).isTrue();
    }

    private static String strictUtf8(byte[] bytes) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    }
}
