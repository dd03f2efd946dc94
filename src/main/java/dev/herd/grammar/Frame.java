package dev.herd.grammar;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/** What the parser expects inside one value; frames are immutable and compare by content. */
sealed interface Frame {
    /** Containers nested deeper than this are refused (any-JSON output could otherwise nest without end). */
    int MAX_DEPTH = 64;
    /** Longest object key outside the schema's property names, in bytes. */
    int MAX_KEY = 256;

    /**
     * The stack after byte b, given the stack {@code self} with this frame on top: {@link Stack#POP} when this value
     * ended before b (a number), null when b may not come here.
     */
    Stack feed(Stack self, int b);

    /** Whether white space may come here. */
    default boolean spaces() {
        return false;
    }

    /** Whether the value may end here without a closing byte (a number). */
    default boolean canEnd() {
        return false;
    }

    /** A value of the node, not begun yet. */
    record Value(Node node) implements Frame {
        @Override
        public Stack feed(Stack self, int b) {
            Frame f = node.begin(b);
            return f == null ? null : f.feed(self.replace(f), b);
        }

        @Override
        public boolean spaces() {
            return true;
        }
    }

    /** An object: which keys were written, and where between the braces the parser is. */
    record Obj(Node.Obj node, BitSet seen, List<String> extras, int phase, Node pending) implements Frame {
        static final int BEFORE = 0, OPEN = 1, COLON = 2, AFTER = 3, NEXT = 4;

        static Obj before(Node.Obj node) {
            return new Obj(node, new BitSet(), List.of(), BEFORE, null);
        }

        @Override
        public Stack feed(Stack self, int b) {
            return switch (phase) {
                case BEFORE -> b == '{' && self.depth() < MAX_DEPTH ? self.replace(at(OPEN, null)) : null;
                case OPEN -> b == '}' ? (requiredMet() ? self.rest() : null) : b == '"' && moreKeys() ? self.push(Key.START) : null;
                case COLON -> b == ':' ? self.replace(at(AFTER, null)).push(new Value(pending)) : null;
                case AFTER -> b == ',' ? (moreKeys() ? self.replace(at(NEXT, null)) : null) : b == '}' && requiredMet() ? self.rest() : null;
                case NEXT -> b == '"' ? self.push(Key.START) : null;
                default -> throw new IllegalStateException();
            };
        }

        @Override
        public boolean spaces() {
            return phase != BEFORE;
        }

        private Obj at(int phase, Node pending) {
            return new Obj(node, seen, extras, phase, pending);
        }

        /** After the declared key i. */
        Obj keyed(int i) {
            BitSet s = (BitSet) seen.clone();
            s.set(i);
            return new Obj(node, s, extras, COLON, node.values.get(i));
        }

        /** After a key the schema does not declare, given as its raw text. */
        Obj extra(String raw) {
            List<String> e = new ArrayList<>(extras);
            e.add(raw);
            return new Obj(node, seen, List.copyOf(e), COLON, node.additional);
        }

        private boolean moreKeys() {
            return node.additional != null || seen.cardinality() < node.keys.size();
        }

        private boolean requiredMet() {
            for (int i = node.required.nextSetBit(0); i >= 0; i = node.required.nextSetBit(i + 1)) if (!seen.get(i)) return false;
            return true;
        }
    }

    /**
     * An object key after its opening quote, on top of its object's frame. Without additional properties it must spell
     * one of the declared names not yet written (in their canonical escaping); with them, any string not yet used.
     *
     * @param raw the key's bytes so far, as Latin-1
     */
    record Key(String raw, int lex) implements Frame {
        static final Key START = new Key("", StringLexer.NORMAL);

        @Override
        public Stack feed(Stack self, int b) {
            Stack below = self.rest();
            Obj obj = (Obj) below.top();
            List<String> keys = obj.node().keys;
            if (obj.node().additional == null) {
                String next = raw + (char) b;
                boolean prefix = false;
                for (int i = 0; i < keys.size(); i++) {
                    String k = keys.get(i);
                    if (obj.seen().get(i) || !k.startsWith(next)) continue;
                    if (k.length() == next.length()) return below.replace(obj.keyed(i));
                    prefix = true;
                }
                return prefix ? self.replace(new Key(next, lex)) : null;
            }
            int l = StringLexer.step(lex, b);
            if (l == StringLexer.REJECT) return null;
            if (l == StringLexer.END) {
                int i = keys.indexOf(raw + '"');
                if (i >= 0) return obj.seen().get(i) ? null : below.replace(obj.keyed(i));
                return obj.extras().contains(raw) ? null : below.replace(obj.extra(raw));
            }
            if (lex == StringLexer.NORMAL && raw.length() >= MAX_KEY) return null; // only the closing quote now
            return self.replace(new Key(raw + (char) b, l));
        }
    }

    record Arr(Node.Arr node, int count, int phase) implements Frame {
        static final int BEFORE = 0, OPEN = 1, AFTER = 2, NEXT = 3;

        @Override
        public Stack feed(Stack self, int b) {
            return switch (phase) {
                case BEFORE -> b == '[' && self.depth() < MAX_DEPTH ? self.replace(new Arr(node, 0, OPEN)) : null;
                case OPEN -> b == ']' ? (node.min == 0 ? self.rest() : null) : node.max > 0 ? item(self, b) : null;
                case AFTER -> b == ',' ? (count < node.max ? self.replace(new Arr(node, count, NEXT)) : null) : b == ']' && count >= node.min ? self.rest() : null;
                case NEXT -> item(self, b);
                default -> throw new IllegalStateException();
            };
        }

        private Stack item(Stack self, int b) {
            Stack s = self.replace(new Arr(node, count + 1, AFTER)).push(new Value(node.items));
            return s.top().feed(s, b);
        }

        @Override
        public boolean spaces() {
            return phase != BEFORE;
        }
    }

    /** A string of any text; one shared frame per lexer state, so that most bytes leave the parser state as it is. */
    record Str(int lex) implements Frame {
        static final Str BEFORE = new Str(-1);
        private static final Str[] STATES = new Str[StringLexer.STATES];

        static {
            for (int i = 0; i < STATES.length; i++) STATES[i] = new Str(i);
        }

        @Override
        public Stack feed(Stack self, int b) {
            if (lex < 0) return b == '"' ? self.replace(STATES[StringLexer.NORMAL]) : null;
            int l = StringLexer.step(lex, b);
            if (l == StringLexer.REJECT) return null;
            return l == StringLexer.END ? self.rest() : self.replace(STATES[l]);
        }
    }

    record Num(boolean integer, int phase) implements Frame {
        static final int BEFORE = 0, MINUS = 1, ZERO = 2, INT = 3, DOT = 4, FRAC = 5, EXP_MARK = 6, EXP_SIGN = 7, EXP = 8;
        private static final int END = -2, REJECT = -1;

        @Override
        public Stack feed(Stack self, int b) {
            boolean digit = b >= '0' && b <= '9';
            int next = switch (phase) {
                case BEFORE -> b == '-' ? MINUS : b == '0' ? ZERO : digit ? INT : REJECT;
                case MINUS -> b == '0' ? ZERO : digit ? INT : REJECT;
                case ZERO -> fraction(b);
                case INT -> digit ? INT : fraction(b);
                case DOT -> digit ? FRAC : REJECT;
                case FRAC -> digit ? FRAC : b == 'e' || b == 'E' ? EXP_MARK : END;
                case EXP_MARK -> b == '+' || b == '-' ? EXP_SIGN : digit ? EXP : REJECT;
                case EXP_SIGN, EXP -> digit ? EXP : phase == EXP ? END : REJECT;
                default -> throw new IllegalStateException();
            };
            if (next == END) return Stack.POP;
            return next == REJECT ? null : self.replace(next == phase ? this : new Num(integer, next));
        }

        private int fraction(int b) {
            if (integer) return END;
            return b == '.' ? DOT : b == 'e' || b == 'E' ? EXP_MARK : END;
        }

        @Override
        public boolean canEnd() {
            return phase == ZERO || phase == INT || phase == FRAC || phase == EXP;
        }
    }

    /** The fixed text before a {@link Node.Tagged} value, as read so far. */
    record Tag(Node.Tagged node, String read) implements Frame {
        @Override
        public Stack feed(Stack self, int b) {
            String next = read + (char) b;
            boolean prefix = false;
            for (int i = 0; i < node.prefixes.size(); i++) {
                String p = node.prefixes.get(i);
                if (!p.startsWith(next)) continue;
                if (p.length() == next.length()) {
                    Stack below = self.rest();
                    if (!node.suffix.isEmpty()) below = below.push(new Lit(List.of(node.suffix), 0));
                    return below.push(new Value(node.values.get(i)));
                }
                prefix = true;
            }
            return prefix ? self.replace(new Tag(node, next)) : null;
        }
    }

    /** One of a few exact texts, the first pos bytes of which were read; all texts listed still agree with them. */
    record Lit(List<String> texts, int pos) implements Frame {
        @Override
        public Stack feed(Stack self, int b) {
            List<String> next = new ArrayList<>(texts.size());
            for (String t : texts) if (t.length() > pos && t.charAt(pos) == b) next.add(t);
            if (next.isEmpty()) return canEnd() ? Stack.POP : null;
            if (next.size() == 1 && next.getFirst().length() == pos + 1) return self.rest();
            return self.replace(new Lit(next.size() == texts.size() ? texts : List.copyOf(next), pos + 1));
        }

        @Override
        public boolean canEnd() {
            for (String t : texts) if (t.length() == pos) return true;
            return false;
        }
    }
}
