package dev.herd.tokenizer;

import dev.herd.HerdException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of a SentencePiece tokenizer.model (a ModelProto protobuf) that tokenizing needs: pieces with scores and
 * types, the special ids from the trainer spec, and whether a space is put in front of the text.
 */
record SentencePieceModel(String[] pieces, float[] scores, int[] types, int unk, int bos, int eos, boolean addSpacePrefix) {

    static SentencePieceModel parse(byte[] bytes, String source) {
        try {
            return parse(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
        } catch (RuntimeException e) {
            throw new HerdException(source + ": not a valid SentencePiece model (" + e.getMessage() + ")", e);
        }
    }

    private static SentencePieceModel parse(ByteBuffer in) {
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        // proto defaults of TrainerSpec and NormalizerSpec
        int unk = 0, bos = 1, eos = 2;
        boolean addSpacePrefix = true;
        while (in.hasRemaining()) {
            int tag = (int) varint(in);
            if (tag >>> 3 == 1 && (tag & 7) == 2) { // ModelProto.pieces
                ByteBuffer piece = message(in);
                String text = "";
                float score = 0;
                int type = Vocabulary.NORMAL;
                while (piece.hasRemaining()) {
                    int t = (int) varint(piece);
                    switch (t) {
                        case 1 << 3 | 2 -> text = StandardCharsets.UTF_8.decode(message(piece)).toString();
                        case 2 << 3 | 5 -> score = piece.getFloat();
                        case 3 << 3 -> type = (int) varint(piece);
                        default -> skip(piece, t);
                    }
                }
                pieces.add(text);
                scores.add(score);
                types.add(type);
            } else if (tag >>> 3 == 2 && (tag & 7) == 2) { // trainer_spec
                ByteBuffer spec = message(in);
                while (spec.hasRemaining()) {
                    int t = (int) varint(spec);
                    switch (t) {
                        case 40 << 3 -> unk = (int) varint(spec);
                        case 41 << 3 -> bos = (int) varint(spec);
                        case 42 << 3 -> eos = (int) varint(spec);
                        default -> skip(spec, t);
                    }
                }
            } else if (tag >>> 3 == 3 && (tag & 7) == 2) { // normalizer_spec
                ByteBuffer spec = message(in);
                while (spec.hasRemaining()) {
                    int t = (int) varint(spec);
                    if (t == 3 << 3) addSpacePrefix = varint(spec) != 0;
                    else skip(spec, t);
                }
            } else {
                skip(in, tag);
            }
        }
        if (pieces.isEmpty()) throw new IllegalArgumentException("no pieces");
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) s[i] = scores.get(i);
        return new SentencePieceModel(pieces.toArray(String[]::new), s,
                types.stream().mapToInt(Integer::intValue).toArray(), unk, bos, eos, addSpacePrefix);
    }

    private static long varint(ByteBuffer in) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            byte b = in.get();
            v |= (long) (b & 0x7f) << shift;
            if (b >= 0) return v;
        }
    }

    private static ByteBuffer message(ByteBuffer in) {
        int len = (int) varint(in);
        ByteBuffer m = in.slice(in.position(), len).order(ByteOrder.LITTLE_ENDIAN);
        in.position(in.position() + len);
        return m;
    }

    private static void skip(ByteBuffer in, int tag) {
        switch (tag & 7) {
            case 0 -> varint(in);
            case 1 -> in.position(in.position() + 8);
            case 2 -> message(in);
            case 5 -> in.position(in.position() + 4);
            default -> throw new IllegalArgumentException("wire type " + (tag & 7));
        }
    }
}
