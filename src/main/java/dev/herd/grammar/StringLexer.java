package dev.herd.grammar;

/**
 * The inside of a JSON string, a byte at a time: escapes, and UTF-8 that is well formed (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). {@code \\u}-escapes of surrogates are refused too, so that every string
 * decodes to valid Unicode; characters beyond the BMP are written as UTF-8.
 */
final class StringLexer {
    static final int REJECT = -1, END = -2;
    static final int NORMAL = 0, ESCAPE = 1, HEX1 = 2, HEX2 = 3, HEX2_LOW = 4, HEX3 = 5, HEX4 = 6,
            U1 = 7, U2 = 8, U2_E0 = 9, U2_ED = 10, U3 = 11, U3_F0 = 12, U3_F4 = 13;
    static final int STATES = 14;

    private StringLexer() {}

    /** The state after byte b (0..255), END after the closing quote, or REJECT. */
    static int step(int state, int b) {
        return switch (state) {
            case NORMAL -> normal(b);
            case ESCAPE -> "\"\\/bfnrt".indexOf(b) >= 0 ? NORMAL : b == 'u' ? HEX1 : REJECT;
            case HEX1 -> b == 'd' || b == 'D' ? HEX2_LOW : hex(b) ? HEX2 : REJECT;
            case HEX2 -> hex(b) ? HEX3 : REJECT;
            case HEX2_LOW -> b >= '0' && b <= '7' ? HEX3 : REJECT; // escapes of D800..DFFF would be surrogates
            case HEX3 -> hex(b) ? HEX4 : REJECT;
            case HEX4 -> hex(b) ? NORMAL : REJECT;
            case U1 -> in(b, 0x80, 0xbf) ? NORMAL : REJECT;
            case U2 -> in(b, 0x80, 0xbf) ? U1 : REJECT;
            case U2_E0 -> in(b, 0xa0, 0xbf) ? U1 : REJECT;
            case U2_ED -> in(b, 0x80, 0x9f) ? U1 : REJECT;
            case U3 -> in(b, 0x80, 0xbf) ? U2 : REJECT;
            case U3_F0 -> in(b, 0x90, 0xbf) ? U2 : REJECT;
            case U3_F4 -> in(b, 0x80, 0x8f) ? U2 : REJECT;
            default -> throw new IllegalArgumentException("string state " + state);
        };
    }

    private static int normal(int b) {
        if (b == '"') return END;
        if (b == '\\') return ESCAPE;
        if (b < 0x20) return REJECT; // control characters must be escaped
        if (b < 0x80) return NORMAL;
        if (in(b, 0xc2, 0xdf)) return U1;
        if (b == 0xe0) return U2_E0;
        if (b == 0xed) return U2_ED;
        if (in(b, 0xe1, 0xef)) return U2;
        if (b == 0xf0) return U3_F0;
        if (in(b, 0xf1, 0xf3)) return U3;
        if (b == 0xf4) return U3_F4;
        return REJECT;
    }

    private static boolean hex(int b) {
        return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
    }

    private static boolean in(int b, int lo, int hi) {
        return b >= lo && b <= hi;
    }
}
