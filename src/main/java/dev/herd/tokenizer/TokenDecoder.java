package dev.herd.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Streams generated ids to text. A character may span tokens (Llama 2 byte tokens, byte-level BPE pieces), so bytes
 * of an unfinished UTF-8 sequence are held back until the sequence completes; invalid bytes come out as U+FFFD.
 * Meant for generated text that continues a prompt, so unlike {@link Tokenizer#decode} it keeps a leading space.
 * One decoder per stream; not thread-safe.
 */
public final class TokenDecoder {
    private final Tokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int n;

    TokenDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The text completed by this token, possibly empty. */
    public String next(int id) {
        byte[] b = tokenizer.bytes(id);
        if (n + b.length > pending.length) pending = Arrays.copyOf(pending, Math.max(2 * pending.length, n + b.length));
        System.arraycopy(b, 0, pending, n, b.length);
        n += b.length;
        return take(complete());
    }

    /** Whatever is still held back, decoded as is. */
    public String flush() {
        return take(n);
    }

    private String take(int end) {
        String s = new String(pending, 0, end, StandardCharsets.UTF_8);
        System.arraycopy(pending, end, pending, 0, n - end);
        n -= end;
        return s;
    }

    /** Length of the prefix that holds no unfinished sequence at its end. */
    private int complete() {
        int i = 0;
        while (i < n) {
            int len = sequenceLength(pending[i] & 0xff);
            if (i + len <= n) {
                i += len;
                continue;
            }
            for (int j = i + 1; j < n; j++) {
                if ((pending[j] & 0xc0) != 0x80) return n; // broken sequence: let the decoder replace it
            }
            return i;
        }
        return n;
    }

    private static int sequenceLength(int lead) {
        if (lead >= 0xf0 && lead <= 0xf4) return 4;
        if (lead >= 0xe0 && lead <= 0xef) return 3;
        if (lead >= 0xc2 && lead <= 0xdf) return 2;
        return 1;
    }
}
