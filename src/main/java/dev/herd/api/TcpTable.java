package dev.herd.api;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Where a TCP connection stands, looked up in the kernel's socket table without touching the socket.
 * <p>
 * Why: the HTTP layer neither reads a connection while its handler runs nor learns when the client closed it, so a
 * request that answers in one piece learns that its client left only when it writes the answer. Reading the socket
 * to find out would take the bytes of the client's next request, and writing commits the response. Linux lists each
 * TCP connection of the process's network namespace, with its state, in {@code /proc/net/tcp} and
 * {@code /proc/net/tcp6} (an IPv4 client of a dual-stack socket, Java's default, is there as {@code ::ffff:a.b.c.d}):
 * once the client has closed its side the connection is in CLOSE_WAIT (08), once it has reset it the connection is
 * no longer listed. Reading those files neither reads nor writes the socket.
 * <p>
 * Limits: CLOSE_WAIT is also a half-close (the client shut its output down and still waits for the answer), so it
 * only says that the client may have gone; {@link ClientWatch} confirms by writing. Where {@code /proc/net} is missing
 * (macOS, Windows, a sandbox that hides it) every lookup is {@link State#UNKNOWN} and nothing is detected.
 */
final class TcpTable {
    /** OPEN: listed in any state but CLOSE_WAIT; ABSENT: not listed (reset, or never seen); UNKNOWN: no table to read. */
    enum State { OPEN, CLOSE_WAIT, ABSENT, UNKNOWN }

    private static final int TCP_CLOSE_WAIT = 0x08;
    private static final List<Path> TABLES = tables(Path.of("/proc/net/tcp6"), Path.of("/proc/net/tcp"));

    private TcpTable() {}

    static boolean available() {
        return !TABLES.isEmpty();
    }

    /** The state of the connection between these two endpoints, as the server sees it. */
    static State state(InetSocketAddress local, InetSocketAddress remote) {
        if (TABLES.isEmpty()) return State.UNKNOWN;
        String port = String.format(Locale.ROOT, ":%04X ", local.getPort()); // skips most lines before parsing them
        for (Path table : TABLES) {
            try (BufferedReader in = Files.newBufferedReader(table, StandardCharsets.US_ASCII)) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.contains(port)) continue;
                    Row row = parse(line, ByteOrder.nativeOrder());
                    if (row != null && same(row.local(), local) && same(row.remote(), remote)) {
                        return row.state() == TCP_CLOSE_WAIT ? State.CLOSE_WAIT : State.OPEN;
                    }
                }
            } catch (IOException | RuntimeException e) {
                return State.UNKNOWN; // a table that cannot be read says nothing
            }
        }
        return State.ABSENT;
    }

    /** One line of {@code /proc/net/tcp} or {@code tcp6}: both endpoints and the TCP state (kernel numbering). */
    record Row(InetSocketAddress local, InetSocketAddress remote, int state) {}

    /**
     * Reads a table line such as {@code "   3: 0100007F:1F90 0100007F:D431 08 00000000:00000000 ..."}; null for the
     * header line.
     *
     * @param order the kernel's byte order (the host's), in which it prints each 32-bit word of an address
     */
    static Row parse(String line, ByteOrder order) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 4 || !f[0].endsWith(":")) return null;
        return new Row(endpoint(f[1], order), endpoint(f[2], order), Integer.parseInt(f[3], 16));
    }

    /**
     * {@code "ADDRESS:PORT"} in hex. The kernel prints an address as its 32-bit words (one for IPv4, four for IPv6),
     * each read from memory as a native int: on a little-endian host 127.0.0.1 is {@code 0100007F} and ::1 is
     * {@code 00000000000000000000000001000000}. The port is a plain number.
     */
    static InetSocketAddress endpoint(String s, ByteOrder order) {
        int colon = s.indexOf(':');
        if (colon != 8 && colon != 32) throw new IllegalArgumentException("not an address:port of /proc/net/tcp: " + s);
        ByteBuffer bytes = ByteBuffer.allocate(colon / 2).order(order);
        for (int i = 0; i < colon; i += 8) bytes.putInt(Integer.parseUnsignedInt(s, i, i + 8, 16));
        try {
            // an IPv4-mapped IPv6 address comes back as an Inet4Address, as Java reports such a client
            return new InetSocketAddress(InetAddress.getByAddress(bytes.array()), Integer.parseInt(s, colon + 1, s.length(), 16));
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e); // only for a wrong length, excluded above
        }
    }

    private static boolean same(InetSocketAddress a, InetSocketAddress b) {
        return a.getPort() == b.getPort() && Arrays.equals(a.getAddress().getAddress(), b.getAddress().getAddress());
    }

    private static List<Path> tables(Path... candidates) {
        return Arrays.stream(candidates).filter(Files::isReadable).toList();
    }
}
