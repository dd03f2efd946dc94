package dev.herd.bench;

import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class DelayRelayTest {
    private static final long DELAY_MS = 20;

    /** An echo server on loopback behind a relay: the bytes come back intact, after at least two delays. */
    @Test
    void echoesBytesIntactAndLate() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (ServerSocket echo = new ServerSocket(0, 4, lo);
             DelayRelay relay = new DelayRelay(new InetSocketAddress(lo, 0), new InetSocketAddress(lo, echo.getLocalPort()), DELAY_MS * 1_000_000)) {
            Thread.ofPlatform().daemon().start(() -> echoOnce(echo));
            Thread.ofPlatform().daemon().start(relay::serve);
            byte[] sent = new byte[300_000]; // several chunks, to check that order is kept
            new Random(7).nextBytes(sent);
            try (Socket s = new Socket(lo, relay.port())) {
                s.setTcpNoDelay(true);
                OutputStream out = s.getOutputStream();
                DataInputStream in = new DataInputStream(s.getInputStream());
                // a small ping first: its round trip is the latency
                long t0 = System.nanoTime();
                out.write(42);
                out.flush();
                assertThat(in.read()).isEqualTo(42);
                long rttMs = (System.nanoTime() - t0) / 1_000_000;
                assertThat(rttMs).isGreaterThanOrEqualTo(2 * DELAY_MS);
                // then a large block, written from another thread while we read
                Thread writer = Thread.ofPlatform().start(() -> {
                    try {
                        out.write(sent);
                        out.flush();
                        s.shutdownOutput();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                byte[] got = new byte[sent.length];
                in.readFully(got);
                assertThat(got).isEqualTo(sent);
                assertThat(in.read()).isEqualTo(-1); // the half-close travels through the relay
                writer.join();
            }
        }
    }

    private static void echoOnce(ServerSocket server) {
        try (Socket s = server.accept()) {
            s.setTcpNoDelay(true);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // the test failed elsewhere
        }
    }
}
