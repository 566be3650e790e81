package moice.cli;

import moice.MoiceException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code serve --kv-memory SIZE}: bytes or binary k/m/g; bad sizes fail with one line naming the flag. */
class ServeFlagsTest {
    @Test
    void sizesParse() {
        assertEquals(1234, ServeCommand.parseSize("1234", "--kv-memory"));
        assertEquals(64L << 10, ServeCommand.parseSize("64k", "--kv-memory"));
        assertEquals(512L << 20, ServeCommand.parseSize("512m", "--kv-memory"));
        assertEquals(512L << 20, ServeCommand.parseSize("512MB", "--kv-memory"));
        assertEquals(2L << 30, ServeCommand.parseSize("2G", "--kv-memory"));
        assertEquals(3L << 29, ServeCommand.parseSize("1.5g", "--kv-memory"));
    }

    @Test
    void badSizesAreRefusedNamingTheFlag() {
        for (String bad : new String[]{"", "m", "12x", "-5", "0", "1e9", "five"}) {
            MoiceException e = assertThrows(MoiceException.class, () -> ServeCommand.parseSize(bad, "--kv-memory"), bad);
            assertTrue(e.getMessage().startsWith("--kv-memory: '" + bad + "' is not a size"), e.getMessage());
        }
        CliTest.Run r = CliTest.run("serve", "--model", "nowhere", "--kv-memory", "lots");
        assertTrue(r.code() != 0 && r.err().contains("--kv-memory: 'lots' is not a size"), r.err());
    }
}
