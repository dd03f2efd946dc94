package dev.herd.cluster;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;

/**
 * AES-256-GCM over the frames of one direction of one connection, once both ends proved the cluster key. The key is
 * fresh per session and direction (derived from the cluster key and both sides' nonces, see {@link Handshake}), and
 * the nonce is the frame's number in that direction, never sent: a frame that was rewritten, replayed, reordered,
 * dropped or reflected back fails its tag, and the session ends. The frame type is authenticated as well.
 * AES-GCM was chosen over an HMAC-SHA256 tag because the JDK's AES-GCM is hardware-accelerated and measured as fast
 * or faster on these frame sizes (docs/security.md), so the frames are also encrypted at no extra cost.
 */
final class Seal {
    static final int TAG = 16;

    private final Cipher cipher;
    private final SecretKeySpec key;
    private final byte[] nonce = new byte[12];
    private final byte[] aad = new byte[1];
    private long frames;

    Seal(byte[] key) {
        this.key = new SecretKeySpec(key, 0, 32, "AES");
        try {
            this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM is part of every JDK", e);
        }
    }

    /** Encrypts {@code in[0, length)} into {@code out}, which gets {@code length + TAG} bytes; returns that. */
    int seal(int type, byte[] in, int length, byte[] out) {
        try {
            init(Cipher.ENCRYPT_MODE, type);
            return cipher.doFinal(in, 0, length, out, 0);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed to encrypt", e);
        }
    }

    /** Decrypts and checks {@code in[0, length)} into {@code out} ({@code length - TAG} bytes), or throws. */
    void open(int type, byte[] in, int length, byte[] out, String peer) {
        try {
            init(Cipher.DECRYPT_MODE, type);
            cipher.doFinal(in, 0, length, out, 0);
        } catch (AEADBadTagException e) {
            throw new Wire.ProtocolException(peer + ": frame " + (frames - 1) + " failed authentication (rewritten, replayed,"
                    + " reordered or not from the cluster key's holder); session ended");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed to decrypt", e);
        }
    }

    private void init(int mode, int type) throws GeneralSecurityException {
        long n = frames++;
        for (int i = 0; i < 8; i++) nonce[4 + i] = (byte) (n >>> (56 - 8 * i));
        cipher.init(mode, key, new GCMParameterSpec(TAG * 8, nonce));
        aad[0] = (byte) type;
        cipher.updateAAD(aad);
    }
}
