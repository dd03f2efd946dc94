package dev.herd.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The /proc/net/tcp lookup behind {@link ClientWatch}: line parsing on real lines, then live connections. */
class TcpTableTest {
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static InetSocketAddress at(String host, int port) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(host), port);
    }

    @Test
    void ipv4LineOfProcNetTcp() throws Exception { // x86-64, a server on 127.0.0.1:41833 whose client closed
        TcpTable.Row row = TcpTable.parse("   3: 0100007F:A369 0100007F:C9A6 08 00000000:00000001 00:00000000 00000000     0        0 345212 1 "
                + "000000006cc183c8 20 4 0 10 -1                    ", LE);
        assertThat(row.local()).isEqualTo(at("127.0.0.1", 41833));
        assertThat(row.remote()).isEqualTo(at("127.0.0.1", 51622));
        assertThat(row.state()).isEqualTo(0x08);
    }

    @Test
    void ipv6LineOfProcNetTcp6() throws Exception {
        TcpTable.Row row = TcpTable.parse("   2: 00000000000000000000000001000000:89D1 00000000000000000000000001000000:8988 08 00000000:00000001 "
                + "00:00000000 00000000     0        0 344223 1 000000006842db82 20 4 0 10 -1", LE);
        assertThat(row.local()).isEqualTo(at("::1", 35281));
        assertThat(row.remote()).isEqualTo(at("::1", 35208));
        // every word in host order: 2001:db8::42:8329 is 20 01 0d b8 ... 00 42 83 29
        assertThat(TcpTable.endpoint("B80D0120000000000000000029834200:01BB", LE)).isEqualTo(at("2001:db8::42:8329", 443));
        assertThat(TcpTable.endpoint("B80D0120000000000000000029834200:01BB", LE).getAddress().getAddress())
                .containsExactly(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42, 0x83, 0x29);
    }

    @Test
    void ipv4MappedLineOfProcNetTcp6IsAnIpv4Address() throws Exception { // Java's dual-stack socket on 127.0.0.1:41225
        TcpTable.Row row = TcpTable.parse("   2: 0000000000000000FFFF00000100007F:A109 0000000000000000FFFF00000100007F:D324 08 00000000:00000001 "
                + "00:00000000 00000000     0        0 344220 1 00000000482a9ed3 20 4 0 10 -1", LE);
        assertThat(row.local().getAddress()).isInstanceOf(Inet4Address.class);
        assertThat(row.local()).isEqualTo(at("127.0.0.1", 41225));
        assertThat(row.remote()).isEqualTo(at("127.0.0.1", 54052));
        assertThat(TcpTable.endpoint("0000000000000000FFFF00000A00020F:0050", LE)).isEqualTo(at("15.2.0.10", 80));
    }

    @Test
    void bigEndianHostsPrintTheBytesInOrder() throws Exception {
        assertThat(TcpTable.endpoint("7F000001:1F90", ByteOrder.BIG_ENDIAN)).isEqualTo(at("127.0.0.1", 8080));
        assertThat(TcpTable.endpoint("00000000000000000000FFFF7F000001:1F90", ByteOrder.BIG_ENDIAN)).isEqualTo(at("127.0.0.1", 8080));
    }

    @Test
    void headerAndMalformedLines() {
        assertThat(TcpTable.parse("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", LE)).isNull();
        assertThatThrownBy(() -> TcpTable.endpoint("7F0001:1F90", LE)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void liveConnectionIsOpenThenCloseWaitOrAbsentAfterAReset() throws Exception {
        assertThat(TcpTable.available()).isTrue();
        for (String host : new String[] {"127.0.0.1", "::1"}) {
            try (ServerSocket listener = new ServerSocket(0, 2, InetAddress.getByName(host))) {
                for (boolean reset : new boolean[] {false, true}) {
                    try (Socket client = new Socket(host, listener.getLocalPort()); Socket server = listener.accept()) {
                        InetSocketAddress local = (InetSocketAddress) server.getLocalSocketAddress();
                        InetSocketAddress remote = (InetSocketAddress) server.getRemoteSocketAddress();
                        assertThat(TcpTable.state(local, remote)).as(host).isEqualTo(TcpTable.State.OPEN);
                        assertThat(TcpTable.state(local, new InetSocketAddress(remote.getAddress(), remote.getPort() ^ 1)))
                                .isEqualTo(TcpTable.State.ABSENT);
                        if (reset) client.setSoLinger(true, 0); // close() then sends RST instead of FIN
                        client.close();
                        awaitState(local, remote, reset ? TcpTable.State.ABSENT : TcpTable.State.CLOSE_WAIT);
                    }
                }
            }
        }
    }

    private static void awaitState(InetSocketAddress local, InetSocketAddress remote, TcpTable.State wanted) throws InterruptedException {
        for (int i = 0; i < 500 && TcpTable.state(local, remote) != wanted; i++) Thread.sleep(10);
        assertThat(TcpTable.state(local, remote)).isEqualTo(wanted);
    }
}
