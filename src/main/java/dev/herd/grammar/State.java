package dev.herd.grammar;

/**
 * Where a parse of the output stands: the frames of the values open, and how many white-space bytes were just read.
 * Immutable: {@link #advance} gives the next state, or the same object when a byte changes nothing (most bytes inside a
 * string), and equal states allow the same continuations, so that masks can be cached by state.
 */
record State(Stack stack, int spaces) {
    /**
     * Longest run of white space between tokens of the JSON text: one, as in {@code {"a": 1, "b": [2]}}. Small models
     * otherwise fill the output with new lines, and a grammar that allows runs of them lets them.
     */
    static final int MAX_SPACES = 1;

    /** The state after byte b (0..255), or null if b cannot continue a valid output. */
    State advance(int b) {
        Stack s = stack;
        boolean space = b == ' ' || b == '\n' || b == '\t' || b == '\r';
        while (s != Stack.EMPTY) {
            Frame f = s.top();
            if (space && f.spaces()) return spaces < MAX_SPACES ? new State(s, spaces + 1) : null;
            Stack next = f.feed(s, b);
            if (next == null) return null;
            if (next != Stack.POP) return next == stack && spaces == 0 ? this : new State(next, 0);
            s = s.rest();
        }
        return null;
    }

    /** The state after these bytes, or null. */
    State advance(byte[] bytes) {
        State s = this;
        for (int i = 0; i < bytes.length && s != null; i++) s = s.advance(bytes[i] & 0xff);
        return s;
    }

    /** Whether the output may end here. */
    boolean complete() {
        Stack s = stack;
        while (s != Stack.EMPTY && s.top().canEnd()) s = s.rest();
        return s == Stack.EMPTY;
    }
}
