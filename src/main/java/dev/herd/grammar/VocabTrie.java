package dev.herd.grammar;

import dev.herd.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The vocabulary's token texts (their bytes) in a trie, walked with a parser state to find every token whose whole
 * text continues the output: a prefix shared by many tokens is parsed once. Tokens without text (control tokens)
 * are not in it; end-of-generation tokens are allowed apart, when the output is complete. Built once per tokenizer.
 * Inside a string nearly every token is allowed and the walk would visit the whole trie (tens of milliseconds for
 * 128k tokens), so there the tokens are classified once per string-lexer state: those that stay inside the string are
 * allowed whatever the enclosing values, and only those that close it are parsed. Object keys outside the schema's
 * names are strings too, unless they come near their length limit.
 */
final class VocabTrie {
    private static final Map<Tokenizer, VocabTrie> BUILT = Collections.synchronizedMap(new WeakHashMap<>());

    final int vocab;
    final int[] eos;
    private final int longest; // bytes of the longest token text
    private final byte[][] bytes;
    private final int[] sorted; // token ids in the byte order of their texts
    // node n: edges [edgeStart[n], edgeStart[n] + edgeCount[n]) to target[e] by byte label[e];
    // the tokens spelled by the path to n: sorted[tokenStart[n] .. tokenEnd[n])
    private int[] edgeStart, edgeCount, tokenStart, tokenEnd, target;
    private byte[] label;
    private int nodes, edges;
    private final long[][] insideString = new long[StringLexer.STATES][]; // by lexer state, computed when first needed
    private final int[][] closingString = new int[StringLexer.STATES][]; // tokens that end the string

    static VocabTrie of(Tokenizer tokenizer) {
        return BUILT.computeIfAbsent(tokenizer, VocabTrie::new);
    }

    private VocabTrie(Tokenizer t) {
        vocab = t.vocabSize();
        eos = t.eos().stream().mapToInt(Integer::intValue).toArray();
        bytes = new byte[vocab][];
        int n = 0, most = 0;
        Integer[] ids = new Integer[vocab];
        for (int id = 0; id < vocab; id++) {
            bytes[id] = t.bytes(id);
            if (bytes[id].length > 0 && !t.isEos(id)) ids[n++] = id;
            most = Math.max(most, bytes[id].length);
        }
        Arrays.sort(ids, 0, n, (a, b) -> Arrays.compareUnsigned(bytes[a], bytes[b]));
        longest = most;
        sorted = new int[n];
        for (int i = 0; i < n; i++) sorted[i] = ids[i];
        int capacity = 1024;
        edgeStart = new int[capacity];
        edgeCount = new int[capacity];
        tokenStart = new int[capacity];
        tokenEnd = new int[capacity];
        target = new int[capacity];
        label = new byte[capacity];
        build(0, n, 0);
    }

    /** Makes the node for the tokens sorted[lo .. hi), which share their first depth bytes; returns its number. */
    private int build(int lo, int hi, int depth) {
        int node = nodes++;
        if (node == edgeStart.length) {
            edgeStart = Arrays.copyOf(edgeStart, 2 * node);
            edgeCount = Arrays.copyOf(edgeCount, 2 * node);
            tokenStart = Arrays.copyOf(tokenStart, 2 * node);
            tokenEnd = Arrays.copyOf(tokenEnd, 2 * node);
        }
        int i = lo;
        while (i < hi && bytes[sorted[i]].length == depth) i++; // the shorter sort first
        tokenStart[node] = lo;
        tokenEnd[node] = i;
        int groups = 0;
        for (int j = i; j < hi; j++) if (j == i || bytes[sorted[j]][depth] != bytes[sorted[j - 1]][depth]) groups++;
        int first = edges;
        edges += groups;
        if (edges > target.length) {
            target = Arrays.copyOf(target, Math.max(2 * target.length, edges));
            label = Arrays.copyOf(label, target.length);
        }
        edgeStart[node] = first;
        edgeCount[node] = groups;
        for (int g = 0, j = i; j < hi; g++) {
            byte b = bytes[sorted[j]][depth];
            int end = j;
            while (end < hi && bytes[sorted[end]][depth] == b) end++;
            label[first + g] = b;
            int child = build(j, end, depth + 1);
            target[first + g] = child;
            j = end;
        }
        return node;
    }

    byte[] bytes(int token) {
        return bytes[token];
    }

    /** The tokens allowed after state s, as bits of a vocab-sized set. */
    long[] allowed(State s) {
        long[] out;
        int lex = stringLexer(s.stack());
        if (lex >= 0) {
            out = inString(lex, s);
        } else {
            out = new long[(vocab + 63) >>> 6];
            walk(0, s, out);
        }
        boolean any = false;
        for (long w : out) any |= w != 0;
        if (s.complete() || !any) { // no token continues the output (a vocabulary without some byte): let it end
            for (int e : eos) out[e >>> 6] |= 1L << e;
        }
        return out;
    }

    private void walk(int node, State s, long[] out) {
        for (int e = edgeStart[node], end = e + edgeCount[node]; e < end; e++) {
            State next = s.advance(label[e] & 0xff);
            if (next == null) continue;
            int child = target[e];
            for (int i = tokenStart[child]; i < tokenEnd[child]; i++) out[sorted[i] >>> 6] |= 1L << sorted[i];
            walk(child, next, out);
        }
    }

    /** The lexer state of the string the parser is in, or -1 where the trie is walked. */
    private int stringLexer(Stack stack) {
        if (stack.top() instanceof Frame.Str str) return str.lex();
        if (stack.top() instanceof Frame.Key key && ((Frame.Obj) stack.rest().top()).node().additional != null
                && key.raw().length() + longest < Frame.MAX_KEY) return key.lex();
        return -1;
    }

    /** The tokens allowed in state s, inside a string in lexer state lex. */
    private long[] inString(int lex, State s) {
        long[] out;
        int[] closing;
        synchronized (insideString) {
            if (insideString[lex] == null) classify(lex);
            out = insideString[lex].clone();
            closing = closingString[lex];
        }
        for (int id : closing) {
            if (s.advance(bytes[id]) != null) out[id >>> 6] |= 1L << id;
        }
        return out;
    }

    private void classify(int lex) {
        long[] inside = new long[(vocab + 63) >>> 6];
        int[] closing = new int[64];
        int n = 0;
        for (int id : sorted) {
            int l = lex;
            for (int i = 0; i < bytes[id].length && l >= 0; i++) l = StringLexer.step(l, bytes[id][i] & 0xff);
            if (l >= 0) inside[id >>> 6] |= 1L << id;
            else if (l == StringLexer.END) {
                if (n == closing.length) closing = Arrays.copyOf(closing, 2 * n);
                closing[n++] = id;
            }
        }
        insideString[lex] = inside;
        closingString[lex] = Arrays.copyOf(closing, n);
    }
}
