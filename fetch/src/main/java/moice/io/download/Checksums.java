package moice.io.download;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/** Digests used to verify downloads: plain sha256, and git's blob sha1 (the Hub's ETag of non-LFS files). */
final class Checksums {
    private Checksums() {
    }

    static MessageDigest sha256() {
        return digest("SHA-256");
    }

    /**
     * A sha1 digest primed with git's blob header {@code "blob <size>\0"}: after the file's bytes it yields the
     * git object id, which the Hub sends as the ETag of files not stored with LFS.
     */
    static MessageDigest gitBlobSha1(long size) {
        MessageDigest d = digest("SHA-1");
        d.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
        return d;
    }

    /** Feeds the first {@code length} bytes of {@code file} into {@code digest}. */
    static void update(MessageDigest digest, Path file, long length) throws IOException {
        byte[] buf = new byte[1 << 16];
        long left = length;
        try (InputStream in = Files.newInputStream(file)) {
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) throw new IOException(file + ": shorter than " + length + " bytes");
                digest.update(buf, 0, n);
                left -= n;
            }
        }
    }

    /** sha256 of the whole file, lower-case hex. */
    static String sha256Hex(Path file) throws IOException {
        MessageDigest d = sha256();
        update(d, file, Files.size(file));
        return hex(d.digest());
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    /** True when {@code s} is exactly {@code length} hex digits. */
    static boolean isHex(String s, int length) {
        if (s == null || s.length() != length) return false;
        for (int i = 0; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0) return false;
        }
        return true;
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + algorithm, e);
        }
    }
}
