package dev.herd.cluster;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One framed message: a type and a payload, with a builder and a checked reader. The payload's fields are
 * little-endian (the frame's length, written by {@link Wire}, is big-endian).
 */
public record Message(int type, byte[] payload, int length) {
    public static final int HELLO = 1, WELCOME = 2, PROOF = 3, READY = 4, PLAN = 5, WEIGHTS = 6, LOADED = 7,
            FORWARD = 8, PARTIAL = 9, SUM = 10, LOGITS = 11, PING = 12, ERROR = 13, BYE = 14, PEER = 15, ECHO = 16,
            HAVE = 17;

    private static final String[] NAMES = {"?", "HELLO", "WELCOME", "PROOF", "READY", "PLAN", "WEIGHTS", "LOADED",
            "FORWARD", "PARTIAL", "SUM", "LOGITS", "PING", "ERROR", "BYE", "PEER", "ECHO", "HAVE"};

    public static String name(int type) {
        return type > 0 && type < NAMES.length ? NAMES[type] : "unknown type " + type;
    }

    public static Message of(int type) {
        return new Message(type, new byte[0], 0);
    }

    public static Message error(String text) {
        return new Builder(ERROR).string(text).build();
    }

    public Reader reader() {
        return new Reader(ByteBuffer.wrap(payload, 0, length).order(ByteOrder.LITTLE_ENDIAN), type);
    }

    /** Builds a payload in a growing buffer. */
    public static final class Builder {
        private final int type;
        private ByteBuffer buf = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);

        public Builder(int type) {
            this.type = type;
        }

        private ByteBuffer room(int n) {
            if (buf.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
                bigger.put(buf.flip());
                buf = bigger;
            }
            return buf;
        }

        public Builder i32(int v) {
            room(4).putInt(v);
            return this;
        }

        public Builder i64(long v) {
            room(8).putLong(v);
            return this;
        }

        public Builder f32(float v) {
            room(4).putFloat(v);
            return this;
        }

        public Builder bytes(byte[] b) {
            i32(b.length);
            room(b.length).put(b);
            return this;
        }

        /** Raw bytes, no length prefix (the reader knows the size). */
        public Builder raw(MemorySegment bytes) {
            int n = (int) bytes.byteSize();
            MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, 0, room(n).array(), buf.position(), n);
            buf.position(buf.position() + n);
            return this;
        }

        public Builder string(String s) {
            return bytes(s.getBytes(StandardCharsets.UTF_8));
        }

        public Message build() {
            return new Message(type, Arrays.copyOf(buf.array(), buf.position()), buf.position());
        }
    }

    /** Reads fields, failing with a protocol error (not an index exception) when the payload is short. */
    public static final class Reader {
        private final ByteBuffer buf;
        private final int type;

        Reader(ByteBuffer buf, int type) {
            this.buf = buf;
            this.type = type;
        }

        private ByteBuffer need(int n) {
            if (n < 0 || buf.remaining() < n) {
                throw new Wire.ProtocolException("message " + name(type) + " is too short: wanted " + n + " more bytes, " + buf.remaining() + " left");
            }
            return buf;
        }

        public int i32() {
            return need(4).getInt();
        }

        public long i64() {
            return need(8).getLong();
        }

        public float f32() {
            return need(4).getFloat();
        }

        public byte[] bytes(int max) {
            int n = i32();
            if (n < 0) throw new Wire.ProtocolException("message " + name(type) + " holds a field of negative length " + n);
            if (n > max) throw new Wire.ProtocolException("message " + name(type) + " holds a field of " + n + " bytes, more than " + max);
            byte[] b = new byte[n];
            need(n).get(b);
            return b;
        }

        public String string() {
            return new String(bytes(1 << 16), StandardCharsets.UTF_8);
        }

        public int remaining() {
            return buf.remaining();
        }

    }
}
