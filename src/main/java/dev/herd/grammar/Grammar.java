package dev.herd.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.tokenizer.Tokenizer;

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

    State start() {
        return new State(Stack.EMPTY.push(new Frame.Value(root)), 0);
    }

    /** A fresh constraint for one generation with this tokenizer's vocabulary. */
    public TokenMask mask(Tokenizer tokenizer) {
        return new TokenMask(VocabTrie.of(tokenizer), start());
    }
}
