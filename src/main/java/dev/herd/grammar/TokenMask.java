package dev.herd.grammar;

import dev.herd.engine.TokenConstraint;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A grammar applied to one generation: before each draw, the tokens whose text would make the output invalid get
 * negative infinite logits; once the output is complete only end-of-generation tokens remain. Masks are cached by
 * parser state: inside a long string the state repeats, and so does the mask. Not thread-safe.
 */
public final class TokenMask implements TokenConstraint {
    private static final int CACHED = 32;

    private final VocabTrie trie;
    private final Map<State, long[]> cache = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<State, long[]> eldest) {
            return size() > CACHED;
        }
    };
    private State state;

    TokenMask(VocabTrie trie, State start) {
        this.trie = trie;
        this.state = start;
    }

    @Override
    public void mask(float[] logits) {
        long[] allowed = allowed();
        int n = Math.min(logits.length, trie.vocab);
        for (int w = 0; w < allowed.length; w++) {
            if (allowed[w] == -1L) continue; // all 64 allowed: most words inside a string
            for (int i = w << 6, end = Math.min(i + 64, n); i < end; i++) {
                if ((allowed[w] & 1L << i) == 0) logits[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** The tokens that may come next, as bits. */
    long[] allowed() {
        long[] bits = cache.get(state);
        if (bits == null) cache.put(state, bits = trie.allowed(state));
        return bits;
    }

    @Override
    public void accept(int token) {
        for (int e : trie.eos) if (e == token) return;
        State next = state.advance(trie.bytes(token));
        if (next == null) throw new IllegalStateException("token " + token + " does not continue the output");
        state = next;
    }

    /** Whether the output so far is a whole document. */
    public boolean complete() {
        return state.complete();
    }
}
