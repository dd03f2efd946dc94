package dev.herd.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Random schemas, well formed or mutated, into the schema reader for a bounded time (fixed seed): each either compiles
 * or fails with a SchemaException of one short printable line. A compiled grammar is then walked byte by byte at
 * random: at every step some byte continues the output or the output is complete (no dead end), and a complete output
 * parses; for unmutated schemas it also validates.
 */
class SchemaFuzzTest {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final String[] TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"};
    private static final String[] NOISE_KEYS = {"anyOf", "oneOf", "$ref", "pattern", "minimum", "format", "type", "items", "enum",
            "properties", "required", "additionalProperties", "minItems", "maxItems", "const", "title", "\u0000", "x".repeat(300)};
    private static final long BUDGET_NANOS = 20_000_000_000L;
    private static final int MAX_CASES = 4000;

    @Test
    void schemasCompileOrFailCleanlyAndTheirGrammarsNeverDeadEnd() {
        SplittableRandom random = new SplittableRandom(1414);
        long end = System.nanoTime() + BUDGET_NANOS;
        int compiled = 0, refused = 0, completed = 0;
        for (int n = 0; n < MAX_CASES && System.nanoTime() < end; n++) {
            boolean mutated = random.nextInt(3) == 0;
            JsonNode schema = schema(random, 0);
            if (mutated) schema = mutate(schema, random);
            Grammar g;
            try {
                g = Grammar.schema(schema);
            } catch (SchemaException e) {
                assertThat(e.getMessage()).hasSizeLessThan(600).doesNotContain("\n").matches("[\\p{Print}\\p{L}]+");
                refused++;
                continue;
            } catch (RuntimeException e) {
                throw new AssertionError("schema " + schema + " threw " + e, e);
            }
            compiled++;
            if (walk(g, schema, mutated, random)) completed++;
        }
        assertThat(compiled).as("compiled").isGreaterThan(100);
        assertThat(refused).as("refused").isGreaterThan(100);
        assertThat(completed).as("walks that completed").isGreaterThan(50);
    }

    /** Up to 400 random bytes through the grammar; true if it reached a complete output (which must then be valid). */
    private static boolean walk(Grammar g, JsonNode schema, boolean mutated, SplittableRandom random) {
        State s = g.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int step = 0; step < 400; step++) {
            if (s.complete() && random.nextInt(4) == 0) break;
            List<Integer> next = new ArrayList<>(), closing = new ArrayList<>();
            for (int b = 0; b < 256; b++) {
                if (s.advance(b) == null) continue;
                next.add(b);
                if ("\"]}0".indexOf(b) >= 0) closing.add(b);
            }
            if (next.isEmpty()) {
                if (!s.complete()) fail("dead end after " + out.toString(StandardCharsets.UTF_8) + " in " + schema);
                break;
            }
            List<Integer> from = !closing.isEmpty() && random.nextBoolean() ? closing : next;
            int b = from.get(random.nextInt(from.size()));
            out.write(b);
            s = s.advance(b);
        }
        if (!s.complete()) return false;
        String text = out.toString(StandardCharsets.UTF_8);
        JsonNode value = SchemaCheck.json(text);
        if (!mutated) assertThat(SchemaCheck.errors(schema, value)).as(text + " for " + schema).isEmpty();
        return true;
    }

    /** A schema of the supported subset, nested a few levels; enum and const never meet another type keyword. */
    private static JsonNode schema(SplittableRandom r, int depth) {
        ObjectNode s = F.objectNode();
        int kind = r.nextInt(depth > 3 ? 6 : 9);
        switch (kind) {
            case 0 -> s.put("type", TYPES[2 + r.nextInt(5)]);
            case 1 -> s.set("type", F.arrayNode().add(TYPES[2 + r.nextInt(3)]).add("null"));
            case 2 -> s.set("enum", values(r, 1 + r.nextInt(4)));
            case 3 -> s.set("const", values(r, 1).get(0));
            case 4 -> s.put("description", "free");
            case 5 -> s.set("anyOf", F.arrayNode().add(schema(r, depth + 1)).add(F.objectNode().put("type", "null")));
            case 6, 7 -> {
                s.put("type", "object");
                ObjectNode props = s.putObject("properties");
                ArrayNode required = F.arrayNode();
                for (int i = r.nextInt(4); i > 0; i--) {
                    String name = r.nextInt(5) == 0 ? "k\"\\é" + i : "k" + i;
                    props.set(name, schema(r, depth + 1));
                    if (r.nextBoolean()) required.add(name);
                }
                if (!required.isEmpty()) s.set("required", required);
                int extra = r.nextInt(3);
                if (extra == 0) s.put("additionalProperties", false);
                else if (extra == 1) s.set("additionalProperties", schema(r, depth + 1));
            }
            default -> {
                s.put("type", "array");
                if (r.nextBoolean()) s.set("items", schema(r, depth + 1));
                int min = r.nextInt(3);
                if (r.nextBoolean()) s.put("minItems", min);
                if (r.nextBoolean()) s.put("maxItems", min + r.nextInt(3));
            }
        }
        return s;
    }

    private static ArrayNode values(SplittableRandom r, int n) {
        ArrayNode a = F.arrayNode();
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(6)) {
                case 0 -> a.add(r.nextInt(100) - 50);
                case 1 -> a.add(r.nextDouble() * 10);
                case 2 -> a.add("s\"\n\u00e9\u2028" + r.nextInt(10));
                case 3 -> a.addNull();
                case 4 -> a.add(r.nextBoolean());
                default -> a.addObject().put("k", r.nextInt(3));
            }
        }
        return a;
    }

    /** The schema with a keyword set to a random value somewhere, or replaced by a scalar. */
    private static JsonNode mutate(JsonNode schema, SplittableRandom r) {
        if (!(schema instanceof ObjectNode o) || r.nextInt(5) == 0) {
            return switch (r.nextInt(4)) {
                case 0 -> F.booleanNode(r.nextBoolean());
                case 1 -> F.numberNode(r.nextInt());
                case 2 -> F.textNode("\uD800");
                default -> F.arrayNode();
            };
        }
        List<String> names = new ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        if (!names.isEmpty() && r.nextBoolean()) {
            String name = names.get(r.nextInt(names.size()));
            if (o.get(name).isObject() && r.nextBoolean()) {
                o.set(name, mutate(o.get(name), r));
                return o;
            }
        }
        String key = NOISE_KEYS[r.nextInt(NOISE_KEYS.length)];
        o.set(key, switch (r.nextInt(7)) {
            case 0 -> F.numberNode(r.nextInt(7) - 3);
            case 1 -> F.textNode(TYPES[r.nextInt(TYPES.length)]);
            case 2 -> F.arrayNode().add(TYPES[r.nextInt(TYPES.length)]).add(r.nextInt());
            case 3 -> F.objectNode().set("a", schema(r, 3));
            case 4 -> F.numberNode(1e300);
            case 5 -> F.arrayNode();
            default -> F.textNode("\uD800\u0001");
        });
        return o;
    }
}
