package dev.herd.cluster;

import dev.herd.HerdException;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 13, item 7: a busy worker pings the root that waits on it, so a root timeout of a few seconds tells a slow
 * worker from a frozen one; an idle worker stays quiet (the root is not reading then, and its socket would fill up).
 */
class PulseTest {
    @Test
    void aBusyWorkerKeepsTheRootsReadsAliveAndAnIdleOneIsQuiet() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Wire root = new Wire(new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort()), "worker");
             Wire worker = new Wire(server.accept(), "root");
             Pulse pulse = new Pulse(worker)) {
            root.timeout(Cluster.HEARTBEAT_MS * 2);
            long start = System.nanoTime();
            int pings = 0;
            while (System.nanoTime() - start < 3L * Cluster.HEARTBEAT_MS * 1_000_000) { // three read timeouts' worth of a "forward pass"
                assertThat(root.receive(0).type()).isEqualTo(Message.PING);
                pings++;
            }
            assertThat(pings).isGreaterThanOrEqualTo(2);
            pulse.busy(false);
            root.timeout(Cluster.HEARTBEAT_MS * 2); // one ping may have been under way
            try {
                root.receive(0);
            } catch (HerdException e) {
                return; // nothing came within the timeout: quiet
            }
            assertThatThrownBy(() -> root.receive(0)).isInstanceOf(HerdException.class).hasMessageContaining("timed out");
        }
    }
}
