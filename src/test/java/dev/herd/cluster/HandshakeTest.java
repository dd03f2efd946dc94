package dev.herd.cluster;

import dev.herd.HerdException;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HandshakeTest {
    static final byte[] FINGERPRINT = new byte[32];
    static final Budget.Capacity CAPACITY = new Budget.Capacity(7L << 30, 123L << 30);
    static final long SPEED = 12_345_678_901L;

    interface Root {
        void run(Wire wire, Socket socket) throws Exception;
    }

    /** Runs the worker side on a loopback server socket and {@code root} as a client; returns the worker's outcome. */
    private static CompletableFuture<Object> session(byte[] workerKey, Root root) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Object> worker = CompletableFuture.supplyAsync(() -> {
                try (Socket s = server.accept(); Wire w = new Wire(s, "root")) {
                    w.timeout(5000);
                    Handshake.Hello hello = Handshake.asWorker(w, workerKey, w.receive(Handshake.MAX_HELLO));
                    Handshake.ready(w, hello, workerKey, CAPACITY, hello.measure() ? SPEED : 0);
                    return hello;
                } catch (Exception e) {
                    return e;
                }
            });
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort()); Wire w = new Wire(s, "worker")) {
                w.timeout(5000);
                root.run(w, s);
            }
            worker.get(10, TimeUnit.SECONDS);
            return worker;
        }
    }

    private static byte[] key(String k) {
        return k.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void acceptsWithoutKeyOnBothSides() throws Exception {
        var worker = session(null, (w, s) -> Handshake.asRoot(w, FINGERPRINT, 1, 3, null, false));
        assertThat(worker.get()).isInstanceOfSatisfying(Handshake.Hello.class, h -> {
            assertThat(h.node()).isEqualTo(1);
            assertThat(h.nodes()).isEqualTo(3);
        });
    }

    /** Issue 13: the root learns what the worker can hold before it sends anything, to refuse a context that cannot fit. */
    @Test
    void theRootLearnsTheWorkersCapacity() throws Exception {
        session(key("k"), (w, s) -> assertThat(Handshake.asRoot(w, FINGERPRINT, 1, 2, key("k"), false)).isEqualTo(new Handshake.Ready(CAPACITY, 0)));
    }

    /** Issue 13 (--balance auto): the worker tells its speed when the root asks for it, only then. */
    @Test
    void theRootLearnsTheWorkersSpeedWhenItAsks() throws Exception {
        var worker = session(null, (w, s) -> assertThat(Handshake.asRoot(w, FINGERPRINT, 1, 2, null, true)).isEqualTo(new Handshake.Ready(CAPACITY, SPEED)));
        assertThat(worker.get()).isInstanceOfSatisfying(Handshake.Hello.class, h -> assertThat(h.measure()).isTrue());
    }

    @Test
    void acceptsMatchingKeys() throws Exception {
        var worker = session(key("s3cret"), (w, s) -> Handshake.asRoot(w, FINGERPRINT, 2, 3, key("s3cret"), false));
        assertThat(worker.get()).isInstanceOf(Handshake.Hello.class);
    }

    @Test
    void wrongKeyIsAClearErrorOnBothSides() throws Exception {
        var worker = session(key("s3cret"), (w, s) -> assertThatThrownBy(() -> Handshake.asRoot(w, FINGERPRINT, 1, 2, key("other"), false))
                .isInstanceOf(HerdException.class).hasMessageContaining("different cluster key"));
        assertThat(worker.get()).isInstanceOfSatisfying(HerdException.class,
                e -> assertThat(e.getMessage()).contains("cluster key mismatch"));
    }

    @Test
    void rootWithoutKeyIsRejectedByKeyedWorker() throws Exception {
        var worker = session(key("s3cret"), (w, s) -> assertThatThrownBy(() -> Handshake.asRoot(w, FINGERPRINT, 1, 2, null, false))
                .hasMessageContaining("requires a cluster key"));
        assertThat(worker.get()).isInstanceOf(HerdException.class);
    }

    @Test
    void keyedRootRejectsWorkerWithoutKey() throws Exception {
        var worker = session(null, (w, s) -> assertThatThrownBy(() -> Handshake.asRoot(w, FINGERPRINT, 1, 2, key("k"), false))
                .hasMessageContaining("has no cluster key"));
        assertThat(worker.get()).isInstanceOf(HerdException.class);
    }

    @Test
    void otherProtocolVersionIsRejected() throws Exception {
        var worker = session(null, (w, s) -> assertThatThrownBy(() -> Handshake.asRoot(w, FINGERPRINT, 1, 2, null, false, 99))
                .hasMessageContaining("protocol " + Handshake.PROTOCOL));
        assertThat(worker.get()).isInstanceOfSatisfying(HerdException.class,
                e -> assertThat(e.getMessage()).contains("protocol 99"));
    }

    @Test
    void randomBytesAreRejectedWithoutLargeAllocation() throws Exception {
        byte[] junk = new byte[4096];
        new Random(7).nextBytes(junk);
        junk[0] = 0x7f; // a length far above any bound
        var worker = session(null, (w, s) -> {
            OutputStream out = s.getOutputStream();
            out.write(junk);
            out.flush();
        });
        assertThat(worker.get()).isInstanceOfSatisfying(Wire.ProtocolException.class,
                e -> assertThat(e.getMessage()).contains("exceeds the limit"));
    }

    @Test
    void peerLinksCarryTheSessionAndTheKey() {
        byte[] token = Handshake.nonce(), other = Handshake.nonce(), key = "k".getBytes();
        assertThat(Handshake.acceptPeer(Handshake.peer(token, 1, 3, null), token, 3, 4, null)).isEqualTo(1);
        assertThat(Handshake.acceptPeer(Handshake.peer(token, 2, 3, key), token, 3, 4, key)).isEqualTo(2);
        assertThatThrownBy(() -> Handshake.acceptPeer(Handshake.peer(other, 1, 3, null), token, 3, 4, null))
                .isInstanceOf(Wire.ProtocolException.class).hasMessageContaining("not from this session");
        assertThatThrownBy(() -> Handshake.acceptPeer(Handshake.peer(token, 1, 3, "x".getBytes()), token, 3, 4, key))
                .isInstanceOf(Wire.ProtocolException.class).hasMessageContaining("another cluster key");
        assertThatThrownBy(() -> Handshake.acceptPeer(Handshake.peer(token, 1, 2, null), token, 3, 4, null))
                .as("meant for another node").isInstanceOf(Wire.ProtocolException.class).hasMessageContaining("bad peer link");
        assertThatThrownBy(() -> Handshake.acceptPeer(Handshake.peer(token, 3, 3, null), token, 3, 4, null))
                .as("a higher node never connects").isInstanceOf(Wire.ProtocolException.class);
        assertThatThrownBy(() -> Handshake.acceptPeer(Message.of(Message.HELLO), token, 3, 4, null))
                .isInstanceOf(Wire.ProtocolException.class).hasMessageContaining("expected PEER");
    }
}
