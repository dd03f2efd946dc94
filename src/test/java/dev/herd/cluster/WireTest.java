package dev.herd.cluster;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WireTest {
    @Test
    void aSendToAPeerThatStoppedReadingFailsInsteadOfHanging() throws IOException {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket silent = server.accept(); // accepted, never read
             Wire w = new Wire(client, "silent peer")) {
            w.writeTimeout(500);
            Message chunk = new Message(Message.WEIGHTS, new byte[1 << 20], 1 << 20);
            long start = System.nanoTime();
            assertThatThrownBy(() -> {
                for (int i = 0; i < 1024; i++) w.send(chunk); // 1 GiB: far beyond the socket buffers
            }).isInstanceOf(IOException.class).hasMessageContaining("the peer stopped reading");
            assertThat((System.nanoTime() - start) / 1e9).isLessThan(10);
        }
    }
}
