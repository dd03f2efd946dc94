package dev.herd.grammar;

/** An immutable stack of parser frames, the innermost value on top; equal stacks are equal parser states. */
record Stack(Frame top, Stack rest, int depth) {
    /** Nothing left to read: the document is complete. */
    static final Stack EMPTY = new Stack(null, null, 0);
    /** Returned by a frame whose value ended before the byte it was given: the byte goes to the frame below. */
    static final Stack POP = new Stack(null, null, -1);

    Stack replace(Frame f) {
        return f == top ? this : new Stack(f, rest, depth);
    }

    Stack push(Frame f) {
        return new Stack(f, this, depth + 1);
    }
}
