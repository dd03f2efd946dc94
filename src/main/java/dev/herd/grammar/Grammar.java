package dev.herd.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * The outputs allowed: one JSON value of a schema, optionally between two fixed texts (a tool call's tags). Immutable
 * and shareable; {@link #mask} gives the per-generation constraint over a vocabulary.
 * <pre>{@code
 * Grammar g = Grammar.schema(schemaJson);          // SchemaException names what is not supported
 * sampler.constrain(g.mask(model.tokenizer));      // then every sampled output is a valid document
 * }</pre>
 */
public final class Grammar {
    private final Node root;
    private final String prefix, suffix; // UTF-8 bytes as Latin-1

    Grammar(Node root) {
        this(root, "", "");
    }

    private Grammar(Node root, String prefix, String suffix) {
        this.root = root;
        this.prefix = prefix;
        this.suffix = suffix;
    }

    /** Any JSON object (OpenAI's {@code json_object} format). */
    public static Grammar jsonObject() {
        return new Grammar(Node.ANY_OBJECT);
    }

    /** The values of a JSON schema, in the subset {@link SchemaReader} describes. */
    public static Grammar schema(JsonNode schema) {
        return new Grammar(new SchemaReader().read(schema, "", 0));
    }

    /** The same values with fixed texts before and after. */
    public Grammar around(String before, String after) {
        return new Grammar(root, latin1(before), latin1(after));
    }

    State start() {
        Stack s = Stack.EMPTY;
        if (!suffix.isEmpty()) s = s.push(new Frame.Lit(java.util.List.of(suffix), 0));
        s = s.push(new Frame.Value(root));
        if (!prefix.isEmpty()) s = s.push(new Frame.Lit(java.util.List.of(prefix), 0));
        return new State(s, 0);
    }

    /** A fresh constraint for one generation with this tokenizer's vocabulary. */
    public TokenMask mask(Tokenizer tokenizer) {
        return new TokenMask(VocabTrie.of(tokenizer), start());
    }

    /** Whether the whole text is an output of this grammar. */
    public boolean accepts(String text) {
        State s = start().advance(text.getBytes(StandardCharsets.UTF_8));
        return s != null && s.complete();
    }

    private static String latin1(String text) {
        return new String(text.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }
}
