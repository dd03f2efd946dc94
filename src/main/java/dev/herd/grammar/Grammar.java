package dev.herd.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The outputs allowed: one JSON value of a schema. Immutable and shareable; {@link #mask} gives the per-generation
 * constraint over a vocabulary.
 * <pre>{@code
 * Grammar g = Grammar.schema(schemaJson);          // SchemaException names what is not supported
 * sampler.constrain(g.mask(model.tokenizer));      // then every sampled output is a valid document
 * }</pre>
 */
public final class Grammar {
    private final Node root;

    Grammar(Node root) {
        this.root = root;
    }

    /** Any JSON object (OpenAI's {@code json_object} format). */
    public static Grammar jsonObject() {
        return new Grammar(Node.ANY_OBJECT);
    }

    /** The values of a JSON schema, in the subset {@link SchemaReader} describes. */
    public static Grammar schema(JsonNode schema) {
        return new Grammar(new SchemaReader().read(schema, "", 0));
    }

    /**
     * A function's arguments by its parameters' schema, read as {@link #schema} reads one except that an object which
     * lists its properties takes no others unless its additionalProperties allows them: clients (LangChain4j, Spring
     * AI, the openai libraries' helpers) describe a function's parameters without additionalProperties and read only
     * those they listed, and a small model let loose on free property names may never close the object.
     */
    public static Grammar arguments(JsonNode parameters) {
        return new Grammar(new SchemaReader(true).read(parameters, "", 0));
    }

    /**
     * One of the values, each after its own text, then the suffix: {@code <tool_call>{"name": "f", "arguments": }
     * + arguments + {@code }</tool_call>}. No prefix may begin another.
     */
    public static Grammar tagged(List<String> prefixes, List<Grammar> values, String suffix) {
        List<String> p = prefixes.stream().map(Grammar::latin1).toList();
        for (String a : p) {
            // white space before a value is the parser's, which then expects the prefix's first other byte
            if (a.isEmpty() || Character.isWhitespace(a.charAt(0))) throw new IllegalArgumentException("a prefix is empty or begins with white space: '" + a + "'");
            for (String b : p) if (a != b && b.startsWith(a)) throw new IllegalArgumentException("a prefix begins another: " + a);
        }
        return new Grammar(new Node.Tagged(p, values.stream().map(g -> g.root).toList(), latin1(suffix)));
    }

    private static String latin1(String text) {
        return new String(text.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }

    State start() {
        return new State(Stack.EMPTY.push(new Frame.Value(root)), 0);
    }

    /** A fresh constraint for one generation with this tokenizer's vocabulary. */
    public TokenMask mask(Tokenizer tokenizer) {
        return new TokenMask(VocabTrie.of(tokenizer), start());
    }
}
