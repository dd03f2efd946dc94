package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.cli.Main;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * Opens a root-worker session: versions are checked, and with a cluster key both sides prove they hold it by an HMAC
 * over fresh nonces from both sides (so a recorded handshake cannot be replayed).
 * <pre>
 * root   → HELLO   magic, protocol, herd version, model fingerprint, node index, node count, root nonce, keyed, measure
 * worker → WELCOME protocol, herd version, worker nonce, HMAC(key, "worker" | both nonces) or nothing
 * root   → PROOF   HMAC(key, "root" | both nonces) or nothing
 * worker → READY   memory the worker has available, free disk space in its KV cache folder, its speed if asked to
 *                  measure it ({@link dev.herd.kernel.SpeedProbe}; else 0) (or ERROR: busy with another root)
 * </pre>
 * Either side answers a problem with ERROR (a readable reason) and closes. With a key, every frame after READY is
 * sealed ({@link Seal}) with a key per direction: HMAC(key, "frames root>worker" | both nonces) and
 * HMAC(key, "frames worker>root" | both nonces).
 *
 * <p>In a mesh, workers also open links to each other ({@link Peers}): the lower node connects and sends
 * {@code PEER magic, protocol, from, to, proof}, where the proof is HMAC(key, "peer" | session token | from | to) with
 * a cluster key, else the session token the root put in the plan. With a key, the link's frames are then sealed with
 * HMAC(key, "frames a>b" | session token | from | to) for the direction a to b.
 */
public final class Handshake {
    public static final int MAGIC = 0x44524548; // "HERD"
    public static final int PROTOCOL = 10; // 10: the plan carries a mixture's shared expert; 9: HELLO may ask for the worker's measured speed, READY carries it (--balance auto); 8: FORWARD places each row in the KV cache (slots, batched decoding); 7: the plan carries every node's weight (unequal splits) and the mixture of experts; 6: HAVE (the worker's cached slices); 5: ECHO (health probes); 4: the plan names the architecture and lists the tensors in ModelTensor's order (biases); 3: READY carries the worker's capacity
    static final int NONCE = 32;
    static final int MAX_HELLO = 4096;

    private static final SecureRandom RANDOM = new SecureRandom();

    private Handshake() {}

    /** What the root tells a worker about the session, and both sides' nonces. */
    public record Hello(int protocol, String version, byte[] fingerprint, int node, int nodes, byte[] rootNonce, byte[] workerNonce, boolean measure) {}

    /** What a worker told the root in READY: what it can hold, and its speed (weight bytes per second; 0: not measured). */
    public record Ready(Budget.Capacity capacity, long speed) {}

    /**
     * Root side. Returns what the worker can hold, and its speed if {@code measure} asks it to measure it, when it
     * accepted; throws HerdException naming the worker otherwise.
     */
    public static Ready asRoot(Wire wire, byte[] fingerprint, int node, int nodes, byte[] key, boolean measure) throws IOException {
        return asRoot(wire, fingerprint, node, nodes, key, measure, PROTOCOL);
    }

    static Ready asRoot(Wire wire, byte[] fingerprint, int node, int nodes, byte[] key, boolean measure, int protocol) throws IOException {
        byte[] rootNonce = nonce();
        wire.send(new Message.Builder(Message.HELLO).i32(MAGIC).i32(protocol).string(Main.version()).bytes(fingerprint)
                .i32(node).i32(nodes).bytes(rootNonce).i32(key != null ? 1 : 0).i32(measure ? 1 : 0).build());
        Message.Reader welcome = welcome(wire).reader();
        int theirs = welcome.i32();
        String theirVersion = welcome.string();
        if (theirs != protocol) {
            throw new HerdException("worker " + wire.peer() + " speaks protocol " + theirs + " (herd " + theirVersion + "), this root speaks " + protocol);
        }
        byte[] workerNonce = welcome.bytes(NONCE);
        byte[] workerProof = welcome.bytes(64);
        if (key != null) {
            if (workerProof.length == 0) {
                wire.send(Message.error("this root requires a cluster key and the worker has none"));
                throw new HerdException("worker " + wire.peer() + " has no cluster key (start it with --cluster-key or HERD_CLUSTER_KEY)");
            }
            if (!MessageDigest.isEqual(workerProof, proof(key, "worker", rootNonce, workerNonce))) {
                wire.send(Message.error("cluster key mismatch: the worker's proof does not match the root's key"));
                throw new HerdException("worker " + wire.peer() + " holds a different cluster key");
            }
        }
        wire.send(new Message.Builder(Message.PROOF).bytes(key == null ? new byte[0] : proof(key, "root", rootNonce, workerNonce)).build());
        Message.Reader r = wire.expect(Message.READY, 24).reader();
        Ready ready = new Ready(new Budget.Capacity(r.i64(), r.i64()), r.i64());
        if (ready.speed() < 0 || measure != ready.speed() > 0) throw new Wire.ProtocolException("worker " + wire.peer() + " sent a speed of " + ready.speed());
        if (key != null) {
            wire.protect(new Seal(proof(key, "frames root>worker", rootNonce, workerNonce)),
                    new Seal(proof(key, "frames worker>root", rootNonce, workerNonce)));
        }
        return ready;
    }

    /** The worker's answer to HELLO; anything else says what answered instead (an HTTP server, another program). */
    private static Message welcome(Wire wire) throws IOException {
        Message m;
        try {
            m = wire.receive(MAX_HELLO);
        } catch (Wire.ProtocolException e) {
            throw notAWorker(wire, e.text, e.getMessage());
        } catch (HerdException e) {
            throw new HerdException("worker " + wire.peer() + " did not answer Herd's handshake (" + e.getMessage()
                    + "): is it `herd worker`, and not another program on that port?", e);
        }
        if (m.type() == Message.ERROR) throw new HerdException(wire.peer() + ": " + m.reader().string());
        if (m.type() != Message.WELCOME) throw notAWorker(wire, null, "answered with message " + Message.name(m.type()));
        return m;
    }

    private static HerdException notAWorker(Wire wire, String text, String detail) {
        if (text != null && text.startsWith("HTTP/")) {
            return new HerdException("worker " + wire.peer() + " is an HTTP server, not a Herd worker (it answered '" + text
                    + "'): is that the API's port? `herd worker` listens on 9998 unless --port says otherwise");
        }
        return new HerdException("worker " + wire.peer() + " is not a Herd worker: " + (text != null ? "it sent '" + text + "'" : detail));
    }

    /**
     * Worker side, from the root's first message {@code m}. Returns the session's hello when the root proved the key
     * (the worker then answers with {@link #ready}). Throws HerdException (after telling the root why, when it
     * speaks the protocol) when the root is rejected.
     */
    public static Hello asWorker(Wire wire, byte[] key, Message m) throws IOException {
        Message.Reader hello = m.reader();
        if (m.type() != Message.HELLO || m.length() < 8 || hello.i32() != MAGIC) {
            throw new Wire.ProtocolException(wire.peer() + ": not a Herd root (bad greeting)");
        }
        int protocol = hello.i32();
        String version = hello.string();
        if (protocol != PROTOCOL) {
            wire.send(Message.error("worker speaks protocol " + PROTOCOL + " (herd " + Main.version() + "), not " + protocol));
            throw new HerdException(wire.peer() + ": root speaks protocol " + protocol + " (herd " + version + "), this worker speaks " + PROTOCOL);
        }
        byte[] fingerprint = hello.bytes(64);
        int node = hello.i32(), nodes = hello.i32();
        byte[] rootNonce = hello.bytes(NONCE);
        boolean keyed = hello.i32() == 1, measure = hello.i32() == 1;
        if (node < 1 || node >= nodes || nodes > 1024) {
            wire.send(Message.error("bad node index " + node + " of " + nodes));
            throw new Wire.ProtocolException(wire.peer() + ": bad node index " + node + " of " + nodes);
        }
        if (key != null && !keyed) {
            wire.send(Message.error("this worker requires a cluster key (--cluster-key or HERD_CLUSTER_KEY)"));
            throw new HerdException(wire.peer() + ": rejected a root without the cluster key");
        }
        byte[] workerNonce = nonce();
        wire.send(new Message.Builder(Message.WELCOME).i32(PROTOCOL).string(Main.version()).bytes(workerNonce)
                .bytes(key == null ? new byte[0] : proof(key, "worker", rootNonce, workerNonce)).build());
        Message reply = wire.receive(MAX_HELLO);
        if (reply.type() == Message.ERROR) throw new HerdException(wire.peer() + ": root refused: " + reply.reader().string());
        if (reply.type() != Message.PROOF) throw new Wire.ProtocolException(wire.peer() + ": expected PROOF, got " + Message.name(reply.type()));
        byte[] rootProof = reply.reader().bytes(64);
        if (key != null && !MessageDigest.isEqual(rootProof, proof(key, "root", rootNonce, workerNonce))) {
            wire.send(Message.error("cluster key mismatch: the root's proof does not match the worker's key"));
            throw new HerdException(wire.peer() + ": rejected a root with a different cluster key");
        }
        return new Hello(protocol, version, fingerprint, node, nodes, rootNonce, workerNonce, measure);
    }

    /**
     * Ends the worker's side of the handshake: READY with what it can hold and its speed (0 unless the root asked;
     * told only to a root that proved the key), then sealed frames if there is a key.
     */
    static void ready(Wire wire, Hello h, byte[] key, Budget.Capacity capacity, long speed) throws IOException {
        wire.send(new Message.Builder(Message.READY).i64(capacity.memory()).i64(capacity.disk()).i64(speed).build());
        if (key != null) {
            wire.protect(new Seal(proof(key, "frames worker>root", h.rootNonce(), h.workerNonce())),
                    new Seal(proof(key, "frames root>worker", h.rootNonce(), h.workerNonce())));
        }
    }

    /** Seals a mesh link between {@code me} and {@code other} once its PEER message is through (with a key). */
    static void protectPeer(Wire wire, byte[] token, int from, int to, int me, byte[] key) {
        if (key == null) return;
        int other = me == from ? to : from;
        byte[] ids = ByteBuffer.allocate(8).putInt(from).putInt(to).array();
        wire.protect(new Seal(proof(key, "frames " + me + ">" + other, token, ids)), new Seal(proof(key, "frames " + other + ">" + me, token, ids)));
    }

    /** What a worker sends to open a mesh link to a higher node. */
    static Message peer(byte[] token, int from, int to, byte[] key) {
        return new Message.Builder(Message.PEER).i32(MAGIC).i32(PROTOCOL).i32(from).i32(to).bytes(peerProof(token, from, to, key)).build();
    }

    /** Checks a PEER message received by node {@code to}; returns the sender's node index. */
    static int acceptPeer(Message m, byte[] token, int to, int nodes, byte[] key) {
        if (m.type() != Message.PEER) throw new Wire.ProtocolException("expected PEER, got " + Message.name(m.type()));
        Message.Reader r = m.reader();
        if (r.i32() != MAGIC) throw new Wire.ProtocolException("not a Herd peer (bad greeting)");
        int protocol = r.i32(), from = r.i32(), target = r.i32();
        if (protocol != PROTOCOL) throw new Wire.ProtocolException("peer speaks protocol " + protocol + ", not " + PROTOCOL);
        if (from < 1 || from >= to || target != to || to >= nodes) throw new Wire.ProtocolException("bad peer link " + from + " -> " + target);
        if (!MessageDigest.isEqual(r.bytes(64), peerProof(token, from, to, key))) {
            throw new Wire.ProtocolException("peer link " + from + " -> " + to + " is not from this session" + (key != null ? " or holds another cluster key" : ""));
        }
        return from;
    }

    private static byte[] peerProof(byte[] token, int from, int to, byte[] key) {
        if (key == null) return token;
        byte[] ids = ByteBuffer.allocate(8).putInt(from).putInt(to).array();
        return proof(key, "peer", token, ids);
    }

    static byte[] nonce() {
        byte[] n = new byte[NONCE];
        RANDOM.nextBytes(n);
        return n;
    }

    static byte[] proof(byte[] key, String role, byte[] rootNonce, byte[] workerNonce) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(role.getBytes(StandardCharsets.US_ASCII));
            mac.update(rootNonce);
            mac.update(workerNonce);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** Longest cluster key file read. */
    static final int MAX_KEY_FILE = 4096;

    /**
     * The cluster key from a flag value, else a file (its first line; it does not show in {@code ps} as a flag does),
     * else the HERD_CLUSTER_KEY variable; null when none is set.
     */
    public static byte[] key(String flag, Path file) {
        if (flag != null && file != null) throw new HerdException("give --cluster-key or --cluster-key-file, not both");
        String k = flag != null ? flag : file != null ? readKey(file) : System.getenv("HERD_CLUSTER_KEY");
        return k == null || k.isEmpty() ? null : k.getBytes(StandardCharsets.UTF_8);
    }

    private static String readKey(Path file) {
        try {
            if (Files.size(file) > MAX_KEY_FILE) throw new HerdException("cluster key file " + file + " is larger than " + MAX_KEY_FILE + " bytes");
            String k = Files.readString(file, StandardCharsets.UTF_8).lines().findFirst().orElse("").strip();
            if (k.isEmpty()) throw new HerdException("cluster key file " + file + " is empty");
            return k;
        } catch (IOException | UncheckedIOException e) {
            throw new HerdException("cannot read the cluster key file " + file + ": " + e.getMessage(), e);
        }
    }
}
